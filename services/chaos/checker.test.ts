import { describe, expect, it } from "vitest";
import type { Message } from "../protocol/frames.js";
import { check, type Observed, type SentMessage } from "./checker.js";

const DM = "dm:alice:bob";

function stored(clientMessageId: string, messageId: string, seq: number): Message {
  return { messageId, conversationId: DM, seq, senderId: "alice", senderDeviceId: "chaos", recipientId: "bob", clientMessageId, body: { text: "x" }, sentAt: "2026-01-01T00:00:00.000Z" };
}

function direct(clientMessageId: string, messageId?: string): SentMessage {
  return {
    clientMessageId,
    kind: "direct",
    senderId: "alice",
    recipients: ["bob"],
    ...(messageId === undefined ? {} : { ack: { messageId, conversationId: DM, atMs: 0 } }),
  };
}

function seen(history: Message[], received: string[] = []): Observed {
  return { received: new Map(received.map((id) => [id, 1])), histories: new Map([[DM, history]]) };
}

describe("the chaos checker", () => {
  it("counts an acked message stored once and delivered as neither lost nor duplicated", () => {
    const history = [stored("c1", "m1", 1)];
    const verdict = check([direct("c1", "m1")], new Map([["alice", seen(history)], ["bob", seen(history, ["c1"])]]));
    expect(verdict).toMatchObject({ sent: 1, acked: 1, delivered: 1, inHistory: 1, lost: 0, duplicated: 0 });
  });

  it("counts an acked message missing from the recipient's history as lost", () => {
    const verdict = check([direct("c1", "m1")], new Map([["alice", seen([stored("c1", "m1", 1)])], ["bob", seen([], ["c1"])]]));
    expect(verdict.lost).toBe(1);
    expect(verdict.examples[0]).toContain("not in the history of bob");
  });

  it("counts an acked direct message the recipient never received as lost, even when stored", () => {
    const history = [stored("c1", "m1", 1)];
    const verdict = check([direct("c1", "m1")], new Map([["alice", seen(history)], ["bob", seen(history)]]));
    expect(verdict).toMatchObject({ lost: 1, delivered: 0, inHistory: 1 });
  });

  it("counts a group message read from the history as delivered: that is how a member catches up", () => {
    const groupMessage: SentMessage = { ...direct("c1", "m1"), kind: "group" };
    const history = [stored("c1", "m1", 1)];
    const verdict = check([groupMessage], new Map([["alice", seen(history)], ["bob", seen(history)]]));
    expect(verdict).toMatchObject({ lost: 0, delivered: 1 });
  });

  it("counts two stored messages for one clientMessageId as a duplicate", () => {
    const history = [stored("c1", "m1", 1), stored("c1", "m2", 2)];
    const verdict = check([direct("c1", "m1")], new Map([["alice", seen(history)], ["bob", seen(history, ["c1"])]]));
    expect(verdict.duplicated).toBe(1);
  });

  it("counts a message listed twice in one history as a duplicate", () => {
    const history = [stored("c1", "m1", 1), stored("c1", "m1", 1)];
    const verdict = check([direct("c1", "m1")], new Map([["alice", seen(history)], ["bob", seen(history, ["c1"])]]));
    expect(verdict.duplicated).toBe(1);
  });

  it("does not count an unacked message as lost, and notes it when it was stored after all", () => {
    const history = [stored("c1", "m1", 1)];
    const verdict = check([direct("c1"), direct("c2")], new Map([["alice", seen(history)], ["bob", seen(history, ["c1"])]]));
    expect(verdict).toMatchObject({ sent: 2, acked: 0, lost: 0, storedUnacked: 1 });
  });
});
