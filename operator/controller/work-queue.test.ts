import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WorkQueue } from "./work-queue.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("WorkQueue", () => {
  it("coalesces a key added several times", async () => {
    const depths: number[] = [];
    const queue = new WorkQueue({ onDepth: (d) => depths.push(d) });
    queue.add("a");
    queue.add("a");
    queue.add("b");
    expect(queue.depth).toBe(2);
    expect(await queue.get()).toBe("a");
    expect(await queue.get()).toBe("b");
    expect(depths).toEqual([1, 2, 1, 0]);
  });

  it("never hands one key to two workers: an add during processing waits for done", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    const key = await queue.get();
    expect(key).toBe("a");
    queue.add("a");
    expect(queue.depth).toBe(0);
    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    queue.done("a");
    await Promise.resolve();
    expect(second).toBe("a");
  });

  it("backs off exponentially on failures, capped, and forget resets it", async () => {
    const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([1, 2, 3, 4, 5, 6].map(() => queue.addRateLimited("a"))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(queue.numFailures("a")).toBe(6);
    queue.forget("a");
    expect(queue.backoff("a")).toBe(100);
    // The earliest schedule wins: the first (100 ms) fires.
    await vi.advanceTimersByTimeAsync(99);
    expect(queue.depth).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.depth).toBe(1);
  });

  it("addAfter schedules, and shutDown releases waiting workers", async () => {
    const queue = new WorkQueue();
    queue.addAfter("a", 5000);
    const next = queue.get();
    await vi.advanceTimersByTimeAsync(5000);
    expect(await next).toBe("a");
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add("b");
    expect(await queue.get()).toBeUndefined();
  });
});
