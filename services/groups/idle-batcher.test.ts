import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryHeldBatchStore } from "../adapters/embedded/memory-held-batch-store.js";
import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";
import { IdleBatcher } from "./idle-batcher.js";
import { groupMessage } from "../testing/group-message.js";

const DELAY_MS = 5_000;
const MAX_MESSAGES = 3;
const SWEEP_MS = 250;

const message = (seq: number): Message => groupMessage(seq);

let flushed: { userId: UserId; seqs: number[]; by: string }[];
let store: MemoryHeldBatchStore;
let batchers: IdleBatcher[];

/** A groups replica's batcher on the shared store; `Date.now` is faked with the timers. */
function replica(name: string): IdleBatcher {
  const batcher = new IdleBatcher(
    store,
    { delayMs: DELAY_MS, maxMessages: MAX_MESSAGES, sweepIntervalMs: SWEEP_MS },
    (userId, messages) => {
      flushed.push({ userId, seqs: messages.map((m) => m.seq), by: name });
    },
    () => Date.now(),
    (error) => {
      throw error;
    },
  );
  batcher.start();
  batchers.push(batcher);
  return batcher;
}

const seqsOf = (): { userId: UserId; seqs: number[] }[] => flushed.map(({ userId, seqs }) => ({ userId, seqs }));

beforeEach(() => {
  // The batcher schedules with timers and reads the clock; fake ones let the test move time instead of waiting.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  flushed = [];
  store = new MemoryHeldBatchStore();
  batchers = [];
});

afterEach(async () => {
  for (const batcher of batchers) batcher.stop();
  await store.close();
  vi.useRealTimers();
});

describe("IdleBatcher", () => {
  it("holds a member's messages until the delay has passed, then hands them over as one batch in order", async () => {
    const batcher = replica("a");
    await batcher.add(["bob"], message(1));
    await vi.advanceTimersByTimeAsync(1_000);
    await batcher.add(["bob"], message(2));
    await vi.advanceTimersByTimeAsync(DELAY_MS - 1_000 - 1);
    expect(flushed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seqsOf()).toEqual([{ userId: "bob", seqs: [1, 2] }]);
  });

  it("counts the delay from the batch's first message, so a steady trickle cannot hold it forever", async () => {
    const batcher = replica("a");
    await batcher.add(["bob"], message(1));
    await vi.advanceTimersByTimeAsync(DELAY_MS - 1);
    await batcher.add(["bob"], message(2));
    await vi.advanceTimersByTimeAsync(1);
    expect(seqsOf()).toEqual([{ userId: "bob", seqs: [1, 2] }]);
  });

  it("keeps one batch per member, each released on its own schedule", async () => {
    const batcher = replica("a");
    await batcher.add(["bob"], message(1));
    await vi.advanceTimersByTimeAsync(2_000);
    await batcher.add(["carol", "bob"], message(2));
    await vi.advanceTimersByTimeAsync(DELAY_MS - 2_000);
    expect(seqsOf()).toEqual([{ userId: "bob", seqs: [1, 2] }]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(seqsOf()).toEqual([
      { userId: "bob", seqs: [1, 2] },
      { userId: "carol", seqs: [2] },
    ]);
  });

  it("hands a released batch over once, and starts a new batch with its own delay for the next message", async () => {
    const batcher = replica("a");
    await batcher.add(["bob"], message(1));
    await vi.advanceTimersByTimeAsync(DELAY_MS);
    await batcher.add(["bob"], message(2));
    await vi.advanceTimersByTimeAsync(DELAY_MS - 1);
    expect(seqsOf()).toEqual([{ userId: "bob", seqs: [1] }]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seqsOf()).toEqual([
      { userId: "bob", seqs: [1] },
      { userId: "bob", seqs: [2] },
    ]);
    await vi.advanceTimersByTimeAsync(10 * DELAY_MS);
    expect(flushed).toHaveLength(2);
  });

  it("releases a batch at once when it reaches the most messages a batch may hold", async () => {
    const batcher = replica("a");
    for (let seq = 1; seq <= MAX_MESSAGES; seq++) await batcher.add(["bob"], message(seq));
    expect(seqsOf()).toEqual([{ userId: "bob", seqs: [1, 2, 3] }]);
    // The filled batch's timer does not release the next one early: it waits for a delay of its own.
    await vi.advanceTimersByTimeAsync(1_000);
    await batcher.add(["bob"], message(4));
    await vi.advanceTimersByTimeAsync(DELAY_MS - 1);
    expect(flushed).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(seqsOf()).toEqual([
      { userId: "bob", seqs: [1, 2, 3] },
      { userId: "bob", seqs: [4] },
    ]);
  });

  it("collects a member's messages from every replica into one batch, handed over once", async () => {
    const [a, b] = [replica("a"), replica("b")];
    await a.add(["bob"], message(1));
    await b.add(["bob"], message(2));
    await vi.advanceTimersByTimeAsync(10 * DELAY_MS);
    expect(seqsOf()).toEqual([{ userId: "bob", seqs: [1, 2] }]);
  });

  it("has another replica release, within a sweep interval of their due time, the batches of a replica that stopped", async () => {
    const [a] = [replica("a"), replica("b")];
    await a.add(["bob", "carol"], message(1));
    a.stop();
    await vi.advanceTimersByTimeAsync(DELAY_MS - 1);
    expect(flushed).toEqual([]);
    await vi.advanceTimersByTimeAsync(SWEEP_MS);
    expect(flushed.map(({ userId, seqs, by }) => ({ userId, seqs, by })).sort((x, y) => x.userId.localeCompare(y.userId))).toEqual([
      { userId: "bob", seqs: [1], by: "b" },
      { userId: "carol", seqs: [1], by: "b" },
    ]);
  });

  it("leaves no timer behind when stopped, and hands nothing over afterwards", async () => {
    // A stopping fan-out must not push through a router that is shutting down.
    const batcher = replica("a");
    await batcher.add(["bob", "carol"], message(1));
    batcher.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * DELAY_MS);
    expect(flushed).toEqual([]);
  });
});
