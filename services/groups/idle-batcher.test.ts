import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";
import { IdleBatcher } from "./idle-batcher.js";

const DELAY_MS = 5_000;
const MAX_MESSAGES = 3;

function message(seq: number): Message {
  return {
    messageId: `m${seq}`,
    conversationId: "grp:g01JZ0000000000000000000001",
    groupId: "g01JZ0000000000000000000001",
    seq,
    senderId: "olive",
    senderDeviceId: "phone",
    clientMessageId: `c${seq}`,
    body: { text: `news ${seq}` },
    sentAt: new Date(0).toISOString(),
  };
}

let flushed: { userId: UserId; seqs: number[] }[];
let batcher: IdleBatcher;

beforeEach(() => {
  // The batcher schedules with setTimeout; fake timers let the test move time instead of waiting.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  flushed = [];
  batcher = new IdleBatcher(DELAY_MS, MAX_MESSAGES, (userId, messages) => {
    flushed.push({ userId, seqs: messages.map((m) => m.seq) });
  });
});

afterEach(() => {
  batcher.clear();
  vi.useRealTimers();
});

describe("IdleBatcher", () => {
  it("holds a member's messages until the delay has passed, then hands them over as one batch in order", () => {
    batcher.add("bob", message(1));
    vi.advanceTimersByTime(1_000);
    batcher.add("bob", message(2));
    vi.advanceTimersByTime(DELAY_MS - 1_000 - 1);
    expect(flushed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(flushed).toEqual([{ userId: "bob", seqs: [1, 2] }]);
  });

  it("counts the delay from the batch's first message, so a steady trickle cannot hold it forever", () => {
    batcher.add("bob", message(1));
    vi.advanceTimersByTime(DELAY_MS - 1);
    batcher.add("bob", message(2));
    vi.advanceTimersByTime(1);
    expect(flushed).toEqual([{ userId: "bob", seqs: [1, 2] }]);
  });

  it("keeps one batch per member, each released on its own schedule", () => {
    batcher.add("bob", message(1));
    vi.advanceTimersByTime(2_000);
    batcher.add("carol", message(2));
    batcher.add("bob", message(3));
    vi.advanceTimersByTime(DELAY_MS - 2_000);
    expect(flushed).toEqual([{ userId: "bob", seqs: [1, 3] }]);
    vi.advanceTimersByTime(2_000);
    expect(flushed).toEqual([
      { userId: "bob", seqs: [1, 3] },
      { userId: "carol", seqs: [2] },
    ]);
  });

  it("hands a released batch over once, and starts a new batch with its own delay for the next message", () => {
    batcher.add("bob", message(1));
    vi.advanceTimersByTime(DELAY_MS);
    batcher.add("bob", message(2));
    vi.advanceTimersByTime(DELAY_MS - 1);
    expect(flushed).toEqual([{ userId: "bob", seqs: [1] }]);
    vi.advanceTimersByTime(1);
    expect(flushed).toEqual([
      { userId: "bob", seqs: [1] },
      { userId: "bob", seqs: [2] },
    ]);
    vi.advanceTimersByTime(10 * DELAY_MS);
    expect(flushed).toHaveLength(2);
  });

  it("releases a batch at once when it reaches the most messages a batch may hold", () => {
    for (let seq = 1; seq <= MAX_MESSAGES; seq++) batcher.add("bob", message(seq));
    expect(flushed).toEqual([{ userId: "bob", seqs: [1, 2, 3] }]);
    // Its timer is gone with it: the next message waits for a delay of its own.
    batcher.add("bob", message(4));
    vi.advanceTimersByTime(DELAY_MS - 1);
    expect(flushed).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(flushed).toEqual([
      { userId: "bob", seqs: [1, 2, 3] },
      { userId: "bob", seqs: [4] },
    ]);
  });

  it("drops the held batches when cleared (on stop) and hands nothing over afterwards", () => {
    // By design (ADR 0006): held messages stay in the group's history for sync; a
    // stopping fan-out must not push through a router that is shutting down.
    batcher.add("bob", message(1));
    batcher.add("carol", message(2));
    batcher.clear();
    vi.advanceTimersByTime(10 * DELAY_MS);
    expect(flushed).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
