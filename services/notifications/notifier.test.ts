import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryOncePerWindow } from "../adapters/embedded/memory-once-per-window.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import type { Notification } from "../events/notification-request.js";
import { notificationTopic } from "../events/topics.js";
import { publishTo } from "../ports/event-bus.js";
import type { NotificationSink } from "../ports/notification-sink.js";
import type { UserId } from "../protocol/ids.js";
import { createLogger } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import { ManualClock } from "../testing/clock.js";
import { Notifier } from "./notifier.js";

const CLUSTER = "test";
const INTERVAL_MS = 60_000;

/** A push provider that records what it accepts and rejects the users a test names. */
class RecordingSink implements NotificationSink {
  readonly sent: { userId: UserId; seq: number }[] = [];
  readonly rejecting = new Set<UserId>();

  readonly received: Notification[] = [];

  notify(notification: Notification): Promise<void> {
    this.received.push(notification);
    if (this.rejecting.has(notification.userId)) return Promise.reject(new Error("provider said no"));
    this.sent.push({ userId: notification.userId, seq: notification.seq });
    return Promise.resolve();
  }
}

let clock: ManualClock;
let bus: MemoryEventBus;
let sink: RecordingSink;
let metrics: Metrics;
let claims: MemoryOncePerWindow;
let notifier: Notifier;


beforeEach(async () => {
  clock = new ManualClock();
  bus = new MemoryEventBus((error) => {
    throw error;
  });
  sink = new RecordingSink();
  metrics = new Metrics();
  claims = new MemoryOncePerWindow(clock.now);
  notifier = new Notifier({ clusterName: CLUSTER, minIntervalMs: INTERVAL_MS }, { bus, sink, claims, metrics, logger: createLogger("silent") });
  await notifier.start();
});

afterEach(async () => {
  await notifier.stop();
  await bus.close();
});

/** Publishes a request naming `userIds` (one or many) and lets the notifier handle it. */
async function request(userIds: UserId | UserId[], seq: number): Promise<void> {
  const recipients = typeof userIds === "string" ? [userIds] : userIds;
  await publishTo(bus, notificationTopic(CLUSTER), `m${seq}`, { userIds: recipients, groupId: "g01JZ0000000000000000000001", conversationId: "grp:g01JZ0000000000000000000001", messageId: `m${seq}`, senderId: "olive", seq });
  // The in-memory bus and the recording sink settle on promise callbacks: done by the next macrotask.
  await new Promise(setImmediate);
}

async function outcomes(): Promise<Record<string, number>> {
  const { values } = await metrics.notifications.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

describe("Notifier", () => {
  it("hands a user's first notification to the push provider", async () => {
    await request("otto", 1);
    expect(sink.sent).toEqual([{ userId: "otto", seq: 1 }]);
    expect(await outcomes()).toEqual({ sent: 1 });
  });

  it("sends one notification to each recipient a request names, carrying that user and the message", async () => {
    await request(["otto", "olga", "oscar"], 1);
    expect(sink.received).toEqual(
      ["otto", "olga", "oscar"].map((userId) => ({ userId, groupId: "g01JZ0000000000000000000001", conversationId: "grp:g01JZ0000000000000000000001", messageId: "m1", senderId: "olive", seq: 1 })),
    );
    expect(await outcomes()).toEqual({ sent: 3 });
  });

  it("delivers a request of the previous release, naming one user, published while a rolling upgrade is under way", async () => {
    const about = { groupId: "g01JZ0000000000000000000001", conversationId: "grp:g01JZ0000000000000000000001", messageId: "m1", senderId: "olive", seq: 1 };
    await bus.publish(notificationTopic(CLUSTER).name, "otto", { userId: "otto", ...about });
    await new Promise(setImmediate);
    expect(sink.received).toEqual([{ userId: "otto", ...about }]);
  });

  it("notifies the recipients of a big request whom no earlier notification limits, slice after slice", async () => {
    const recipients = Array.from({ length: 70 }, (_, i) => `u${String(i)}`);
    await claims.claimEach(["notify:u40"], INTERVAL_MS);
    await request(recipients, 1);
    expect(sink.sent.map(({ userId }) => userId)).toEqual(recipients.filter((userId) => userId !== "u40"));
    expect(await outcomes()).toEqual({ sent: 69, rate_limited: 1 });
  });

  it("limits each recipient of a request on their own: only those not notified within the interval get one", async () => {
    await request("otto", 1);
    await request(["otto", "olga"], 2);
    expect(sink.sent).toEqual([
      { userId: "otto", seq: 1 },
      { userId: "olga", seq: 2 },
    ]);
    expect(await outcomes()).toEqual({ sent: 2, rate_limited: 1 });
  });

  it("sends at most one notification per user per interval and drops the rest for good", async () => {
    await request("otto", 1);
    clock.advance(1);
    await request("otto", 2);
    clock.advance(INTERVAL_MS - 2);
    await request("otto", 3);
    expect(sink.sent).toEqual([{ userId: "otto", seq: 1 }]);

    // The interval runs from the last notification sent, not from the dropped ones.
    clock.advance(1);
    await request("otto", 4);
    expect(sink.sent).toEqual([
      { userId: "otto", seq: 1 },
      { userId: "otto", seq: 4 },
    ]);
    expect(await outcomes()).toEqual({ sent: 2, rate_limited: 2 });
  });

  it("limits each user on their own", async () => {
    await request("otto", 1);
    await request("olga", 1);
    await request("otto", 2);
    expect(sink.sent).toEqual([
      { userId: "otto", seq: 1 },
      { userId: "olga", seq: 1 },
    ]);
  });

  it("counts a notification the provider rejected, keeps serving other users, and holds the user to the interval all the same", async () => {
    sink.rejecting.add("otto");
    await request("otto", 1);
    await request("olga", 1);
    sink.rejecting.clear();
    await request("otto", 2);
    expect(sink.sent).toEqual([{ userId: "olga", seq: 1 }]);
    expect(await outcomes()).toEqual({ failed: 1, sent: 1, rate_limited: 1 });
  });

  it("holds the limit across replicas that share the claims, whichever reads the request", async () => {
    // Another replica, reading the requests of another partition (a bus of its own here), as after a rebalance.
    const otherBus = new MemoryEventBus((error) => {
      throw error;
    });
    const replica = new Notifier({ clusterName: CLUSTER, minIntervalMs: INTERVAL_MS }, { bus: otherBus, sink, claims, metrics, logger: createLogger("silent") });
    await replica.start();
    try {
      await request("otto", 1);
      await publishTo(otherBus, notificationTopic(CLUSTER), "m2", { userIds: ["otto"], groupId: "g01JZ0000000000000000000001", conversationId: "grp:g01JZ0000000000000000000001", messageId: "m2", senderId: "olive", seq: 2 });
      await new Promise(setImmediate);
      expect(sink.sent).toEqual([{ userId: "otto", seq: 1 }]);
      expect(await outcomes()).toEqual({ sent: 1, rate_limited: 1 });
    } finally {
      await replica.stop();
      await otherBus.close();
    }
  });

  it("never lifts a limit early when it forgets old entries to bound its memory", async () => {
    // Forgetting starts at 10,000 remembered users.
    const users = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    for (let i = 0; i < users.length; i += 1_000) await request(users.slice(i, i + 1_000), 1);
    clock.advance(INTERVAL_MS / 2);
    await request("newcomer", 1);
    await request("u0", 2);
    expect(sink.sent.filter((s) => s.userId === "u0")).toEqual([{ userId: "u0", seq: 1 }]);

    clock.advance(INTERVAL_MS / 2);
    await request("u0", 3);
    expect(sink.sent.filter((s) => s.userId === "u0")).toEqual([
      { userId: "u0", seq: 1 },
      { userId: "u0", seq: 3 },
    ]);
  });
});
