import { describe, expect, it } from "vitest";
import { KeyedRunner } from "./keyed-runner.js";

/** A task that runs until the test lets it finish. */
function gate(): { started: Promise<void>; open: () => void; task: () => Promise<void> } {
  let markStarted = (): void => undefined;
  let open = (): void => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    started,
    open,
    task: async () => {
      markStarted();
      await opened;
    },
  };
}

describe("KeyedRunner", () => {
  it("runs a key's tasks one at a time, in the order they were added", async () => {
    const runner = new KeyedRunner(4);
    const first = gate();
    const order: string[] = [];
    const done = [
      runner.run("alice", async () => {
        await first.task();
        order.push("first");
      }),
      runner.run("alice", () => {
        order.push("second");
      }),
    ];
    await first.started;
    expect(order).toEqual([]);
    first.open();
    await Promise.all(done);
    expect(order).toEqual(["first", "second"]);
  });

  it("runs other keys while one key's task is still running", async () => {
    const runner = new KeyedRunner(2);
    const slow = gate();
    const slowDone = runner.run("slow", slow.task);
    await slow.started;
    let fastRan = false;
    await runner.run("fast", () => {
      fastRan = true;
    });
    expect(fastRan).toBe(true);
    slow.open();
    await slowDone;
  });

  it("starts a task beyond the limit only when a running one finishes", async () => {
    const runner = new KeyedRunner(1);
    const first = gate();
    const firstDone = runner.run("a", first.task);
    const second = gate();
    const secondDone = runner.run("b", second.task);
    await first.started;
    let secondStarted = false;
    void second.started.then(() => (secondStarted = true));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(secondStarted).toBe(false);
    first.open();
    await second.started;
    second.open();
    await Promise.all([firstDone, secondDone]);
  });

  it("keeps running a key's later tasks after one fails, and reports the failure to its caller", async () => {
    const runner = new KeyedRunner(1);
    const failing = runner.run("k", () => {
      throw new Error("boom");
    });
    let after = false;
    const later = runner.run("k", () => {
      after = true;
    });
    await expect(failing).rejects.toThrow("boom");
    await later;
    expect(after).toBe(true);
  });

  it("is idle once every task added so far has finished", async () => {
    const runner = new KeyedRunner(2);
    const slow = gate();
    void runner.run("k", slow.task);
    let idle = false;
    const idling = runner.idle().then(() => (idle = true));
    await slow.started;
    expect(idle).toBe(false);
    slow.open();
    await idling;
    expect(idle).toBe(true);
  });

  it("refuses a limit below 1", () => {
    expect(() => new KeyedRunner(0)).toThrow(RangeError);
  });
});
