import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryStorage, ParleyError } from "../sdk/index.js";
import { EventCollector } from "./support/event-collector.js";
import { startTestPlatform, type TestPlatform } from "./support/test-platform.js";

let platform: TestPlatform;

beforeEach(async () => {
  platform = await startTestPlatform();
});

afterEach(async () => {
  await platform.dispose();
});

describe("1:1 messaging between two users", () => {
  it("acks the sender after storing and delivers to the recipient, with receipts back", async () => {
    const alice = await platform.open("alice");
    const bob = await platform.open("bob");
    const aliceEvents = EventCollector.of(alice);
    const bobEvents = EventCollector.of(bob);

    const ack = await alice.request({ type: "send", to: "bob", clientMessageId: "hi-1", body: { text: "hi bob" } });
    expect(ack.duplicate).toBe(false);
    const message = ack.message;
    expect(message).toMatchObject({ conversationId: "dm:alice:bob", seq: 1, senderId: "alice", recipientId: "bob", body: { text: "hi bob" } });

    const [delivered] = await bobEvents.untilMessages(1);
    expect(delivered).toEqual(message);

    await bob.receipt(message.conversationId, "delivered", message.seq);
    await bob.receipt(message.conversationId, "read", message.seq);
    const events = await aliceEvents.until((all) => all.filter((e) => e.type === "receipt").length === 2);
    expect(events.flatMap((e) => (e.type === "receipt" ? [[e.receipt.userId, e.receipt.kind, e.receipt.upToSeq]] : []))).toEqual([
      ["bob", "delivered", 1],
      ["bob", "read", 1],
    ]);
  });

  it("gives every device the same per-conversation order, whoever sends", async () => {
    const alice = await platform.open("alice");
    const bob = await platform.open("bob");
    const watcher = EventCollector.of(await platform.open("bob", { deviceId: "watch" }));
    const sends = [];
    for (let i = 0; i < 10; i++) {
      sends.push(alice.send("bob", `a${i}`), bob.send("alice", `b${i}`));
    }
    const acks = await Promise.all(sends);
    expect(new Set(acks.map((a) => a.seq)).size).toBe(20);
    const seen = await watcher.untilMessages(20);
    expect(seen.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const history = await alice.history("dm:alice:bob", { limit: 50 });
    expect(history.messages.map((m) => m.messageId).reverse()).toEqual(seen.map((m) => m.messageId));
  });

  it("pages history newest first", async () => {
    const alice = await platform.open("alice");
    for (let i = 1; i <= 7; i++) await alice.send("bob", `m${i}`);
    const first = await alice.history("dm:alice:bob", { limit: 3 });
    expect(first.messages.map((m) => m.body.text)).toEqual(["m7", "m6", "m5"]);
    expect(first.hasMore).toBe(true);
    const last = await alice.history("dm:alice:bob", { before: 2, limit: 3 });
    expect(last.messages.map((m) => m.body.text)).toEqual(["m1"]);
    expect(last.hasMore).toBe(false);
  });

  it("refuses reads and receipts in a conversation the user is not part of", async () => {
    const alice = await platform.open("alice");
    await alice.send("bob", "private");
    const mallory = await platform.open("mallory");
    await expect(mallory.history("dm:alice:bob")).rejects.toMatchObject({ code: "forbidden" });
    await expect(mallory.receipt("dm:alice:bob", "read", 1)).rejects.toBeInstanceOf(ParleyError);
    const { events } = await mallory.request({ type: "sync", after: 0 });
    expect(events).toEqual([]);
  });
});

describe("several devices of one user", () => {
  it("delivers to every device of the recipient and to the sender's other devices", async () => {
    const alicePhone = await platform.open("alice", { deviceId: "phone" });
    const aliceLaptop = EventCollector.of(await platform.open("alice", { deviceId: "laptop" }));
    const bobDevices = await Promise.all(["phone", "laptop", "tablet"].map((deviceId) => platform.open("bob", { deviceId })));
    const bobCollectors = bobDevices.map((client) => EventCollector.of(client));

    const message = await alicePhone.send("bob", "to all your devices");
    for (const collector of [...bobCollectors, aliceLaptop]) {
      const [received] = await collector.untilMessages(1);
      expect(received?.messageId).toBe(message.messageId);
    }
  });

  it("a read on one device reaches the user's other devices", async () => {
    const alice = await platform.open("alice");
    const bobPhone = await platform.open("bob", { deviceId: "phone" });
    const bobLaptop = EventCollector.of(await platform.open("bob", { deviceId: "laptop" }));
    const message = await alice.send("bob", "read me");
    await bobPhone.receipt(message.conversationId, "read", message.seq);
    const events = await bobLaptop.until((all) => all.some((e) => e.type === "receipt"));
    expect(events.find((e) => e.type === "receipt")).toMatchObject({ receipt: { userId: "bob", kind: "read", upToSeq: 1 } });
  });
});

describe("offline recipients", () => {
  it("get everything they missed on reconnect, in order, with no gap and no duplicate", async () => {
    const alice = await platform.open("alice");
    // The phone keeps its state (the inbox cursor) across sessions, as an app's storage would.
    const bobPhoneStorage = memoryStorage();
    const bobFirst = await platform.open("bob", { deviceId: "phone", storage: bobPhoneStorage });
    const firstSession = EventCollector.of(bobFirst);
    await alice.send("bob", "before");
    await firstSession.untilMessages(1);
    const cursor = bobFirst.cursor;
    await bobFirst.close();

    const missed = [];
    for (let i = 0; i < 120; i++) missed.push(await alice.send("bob", `missed ${i}`));

    // The sync on connect resumes from the cursor the device kept; a live message racing
    // with that sync must still leave one contiguous sequence.
    const secondSession = new EventCollector();
    await Promise.all([
      platform.open("bob", { deviceId: "phone", storage: bobPhoneStorage, onEvent: secondSession.record }),
      alice.send("bob", "live"),
    ]);
    const received = await secondSession.untilMessages(121);
    expect(received.map((m) => m.body.text)).toEqual([...missed.map((m) => m.body.text), "live"]);
    expect(secondSession.events.map((e) => e.cursor)).toEqual(Array.from({ length: 121 }, (_, i) => cursor + 1 + i));
  });
});

describe("retried sends", () => {
  it("never store or deliver a message twice", async () => {
    const alice = await platform.open("alice");
    const bob = EventCollector.of(await platform.open("bob"));
    // Raw send frames: the SDK's outbox would hide the duplicate flag this test checks.
    const send = { type: "send", to: "bob", clientMessageId: "client-id-1", body: { text: "once" } } as const;
    const first = await alice.request(send);
    const retry = await alice.request(send);
    expect(retry.duplicate).toBe(true);
    expect(retry.message).toEqual(first.message);

    await alice.send("bob", "next", { clientMessageId: "client-id-2" });
    const messages = await bob.untilMessages(2);
    expect(messages.map((m) => m.body.text)).toEqual(["once", "next"]);
    expect(messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it("refuses a reused client message id with other content", async () => {
    const alice = await platform.open("alice");
    await alice.send("bob", "original", { clientMessageId: "client-id-1" });
    await expect(alice.send("bob", "changed", { clientMessageId: "client-id-1" })).rejects.toMatchObject({ code: "invalid_frame" });
  });
});
