import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { MemoryHeldBatchStore } from "../adapters/embedded/memory-held-batch-store.js";
import { MemoryDeliveryChannel } from "../adapters/embedded/memory-delivery-channel.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import { SqliteGroupStore } from "../adapters/embedded/sqlite-group-store.js";
import { DeliveryRouter } from "../delivery/delivery-router.js";
import type { ActivityKind } from "../events/activity-event.js";
import { DeliveryEnvelope } from "../events/delivery-envelope.js";
import { activityTopic, groupTopic, notificationTopic, type GroupTopicLayout } from "../events/topics.js";
import type { DeviceRoute } from "../ports/connection-registry.js";
import { publishTo, subscribeTo, type Subscription } from "../ports/event-bus.js";
import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";
import { createLogger } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import { ManualClock } from "../testing/clock.js";
import { makeTempDir, type TempDir } from "../testing/temp-dir.js";
import type { NotificationRequest } from "../events/notification-request.js";
import { chooseTier, FANOUT_CHUNK_MEMBERS, FanoutService } from "./fanout-service.js";
import { groupMessage } from "../testing/group-message.js";

describe("chooseTier", () => {
  it("puts a member with no connected device offline, however active", () => {
    expect(chooseTier({ online: false, isSender: false, active: true })).toBe("offline");
    expect(chooseTier({ online: false, isSender: true, active: true })).toBe("offline");
  });

  it("puts a connected active member in real time", () => {
    expect(chooseTier({ online: true, isSender: false, active: true })).toBe("realtime");
  });

  it("batches a connected idle member", () => {
    expect(chooseTier({ online: true, isSender: false, active: false })).toBe("batched");
  });

  it("always gives a connected sender their own message in real time", () => {
    expect(chooseTier({ online: true, isSender: true, active: false })).toBe("realtime");
  });
});

const CLUSTER = "test";
const GROUP = "g01JZ0000000000000000000001";
const HALF_LIFE_MS = 300_000;
const DELAY_MS = 5_000;
const ROUTE_TTL_MS = 24 * 3_600_000;

/** olive posts; ann has a device on each gateway; ian is on gw-2; otto has no connection. */
const ROUTES: DeviceRoute[] = [
  { userId: "olive", deviceId: "phone", connectionId: "c-olive", gatewayId: "gw-1" },
  { userId: "ann", deviceId: "phone", connectionId: "c-ann-1", gatewayId: "gw-1" },
  { userId: "ann", deviceId: "laptop", connectionId: "c-ann-2", gatewayId: "gw-2" },
  { userId: "ian", deviceId: "phone", connectionId: "c-ian", gatewayId: "gw-2" },
];

interface Pushed {
  gatewayId: string;
  connectionIds: string[];
  tier: string;
  seqs: number[];
}

/** Every group frame the gateways are sent, and a way to await the nth. */
class GatewayInbox {
  readonly pushed: Pushed[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  record(gatewayId: string, value: unknown): void {
    const envelope = DeliveryEnvelope.parse(value);
    if (envelope.frame.type !== "group.messages") throw new Error(`unexpected ${envelope.frame.type} frame`);
    this.pushed.push({ gatewayId, connectionIds: [...envelope.connectionIds].sort(), tier: envelope.frame.tier, seqs: envelope.frame.messages.map((m) => m.seq) });
    for (const waiter of this.waiters.filter((w) => this.pushed.length >= w.count)) waiter.resolve();
  }

  until(count: number): Promise<void> {
    if (this.pushed.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

const message = (seq: number, senderId: UserId = "olive"): Message => groupMessage(seq, { groupId: GROUP, senderId, sentAt: clock.now() });

let dir: TempDir;
let clock: ManualClock;
let groups: SqliteGroupStore;
let registry: MemoryConnectionRegistry;
let heldBatches: MemoryHeldBatchStore;
let channel: MemoryDeliveryChannel;
let bus: MemoryEventBus;
let inbox: GatewayInbox;
let notified: UserId[];
let requests: NotificationRequest[];
let notifications: Subscription;
let fanout: FanoutService;

beforeEach(async () => {
  // The batcher and the score pruning run on timers; fake ones let the test move time.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
  clock = new ManualClock();
  dir = await makeTempDir("parley-fanout-");
  groups = new SqliteGroupStore(join(dir.path, "groups.db"));
  await groups.createGroup({
    groupId: GROUP,
    name: "team",
    createdBy: "olive",
    createdAt: new Date(clock.now()),
    members: [
      { userId: "olive", role: "owner" },
      { userId: "ann", role: "member" },
      { userId: "ian", role: "member" },
      { userId: "otto", role: "member" },
    ],
  });
  registry = new MemoryConnectionRegistry(clock.now);
  heldBatches = new MemoryHeldBatchStore();
  for (const route of ROUTES) await registry.register(route, ROUTE_TTL_MS);
  channel = new MemoryDeliveryChannel();
  inbox = new GatewayInbox();
  for (const gatewayId of ["gw-1", "gw-2"]) {
    await channel.listen(gatewayId, (value) => {
      inbox.record(gatewayId, value);
    });
  }
  bus = new MemoryEventBus((error) => {
    throw error;
  });
  notified = [];
  requests = [];
  notifications = await subscribeTo(
    bus,
    notificationTopic(CLUSTER),
    "test-witness",
    (request) => {
      requests.push(request);
      notified.push(...request.userIds);
    },
    () => {
      throw new Error("malformed notification request");
    },
  );
  fanout = new FanoutService(
    { clusterName: CLUSTER, activeScoreThreshold: 1, activityHalfLifeMs: HALF_LIFE_MS, idleBatchDelayMs: DELAY_MS, idleBatchMaxMessages: 50, groupTopics: 16, processId: "test" },
    { bus, groups, registry, heldBatches, router: new DeliveryRouter(registry, channel), metrics: new Metrics(), logger: createLogger("silent"), now: clock.now },
  );
  await fanout.start();
});

afterEach(async () => {
  await fanout.stop();
  await bus.close();
  await groups.close();
  await dir.remove();
  vi.useRealTimers();
});

/** Publishes an activity event and lets the fan-out record it. */
async function act(userId: UserId, kind: ActivityKind): Promise<void> {
  await publishTo(bus, activityTopic(CLUSTER), userId, { userId, deviceId: "phone", connectionId: `c-${userId}`, gatewayId: "gw-1", kind, at: clock.now() });
  // The in-memory bus runs handlers on promise callbacks: they have all run by the next macrotask.
  await new Promise(setImmediate);
}

function post(seq: number, senderId: UserId = "olive", layout: GroupTopicLayout = "per-group"): Promise<void> {
  return publishTo(bus, groupTopic(CLUSTER, GROUP, layout), GROUP, { message: message(seq, senderId) });
}

/** Waits until every published event has been handled: stopping drains the subscriptions. */
async function drain(): Promise<void> {
  await fanout.stop();
  await notifications.unsubscribe();
}

describe("FanoutService", () => {
  it("pushes to the sender and active members at once, batches idle members, and asks to notify offline ones", async () => {
    await act("ann", "connect");
    await post(1);

    // One realtime frame per gateway, for every active device on it.
    await inbox.until(2);
    expect(inbox.pushed).toEqual(
      expect.arrayContaining([
        { gatewayId: "gw-1", connectionIds: ["c-ann-1", "c-olive"], tier: "realtime", seqs: [1] },
        { gatewayId: "gw-2", connectionIds: ["c-ann-2"], tier: "realtime", seqs: [1] },
      ]),
    );

    // Idle ian gets nothing until the batch delay has passed.
    await vi.advanceTimersByTimeAsync(DELAY_MS - 1);
    expect(inbox.pushed).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    await inbox.until(3);
    expect(inbox.pushed[2]).toEqual({ gatewayId: "gw-2", connectionIds: ["c-ian"], tier: "batched", seqs: [1] });

    await drain();
    expect(notified).toEqual(["otto"]);
  });

  it("sends each idle member one batch of the messages held for them, in order", async () => {
    for (let seq = 1; seq <= 3; seq++) await post(seq);
    // The sender's realtime frames come after each message's members were sorted into tiers.
    await inbox.until(3);
    expect(inbox.pushed.map((p) => p.connectionIds)).toEqual([["c-olive"], ["c-olive"], ["c-olive"]]);

    await vi.advanceTimersByTimeAsync(DELAY_MS);
    await inbox.until(6);
    expect(inbox.pushed.slice(3)).toEqual(
      expect.arrayContaining([
        { gatewayId: "gw-1", connectionIds: ["c-ann-1"], tier: "batched", seqs: [1, 2, 3] },
        { gatewayId: "gw-2", connectionIds: ["c-ann-2"], tier: "batched", seqs: [1, 2, 3] },
        { gatewayId: "gw-2", connectionIds: ["c-ian"], tier: "batched", seqs: [1, 2, 3] },
      ]),
    );
  });

  it("batches a member whose activity has decayed below the threshold, and pushes at once again when they act", async () => {
    await act("ann", "connect"); // 2: active
    clock.advance(2 * HALF_LIFE_MS); // 0.5: idle
    await post(1);
    await inbox.until(1);
    expect(inbox.pushed[0]?.connectionIds).toEqual(["c-olive"]);

    await act("ann", "send");
    await post(2);
    await inbox.until(3);
    expect(inbox.pushed.slice(1).flatMap((p) => p.connectionIds).sort()).toEqual(["c-ann-1", "c-ann-2", "c-olive"]);
    expect(inbox.pushed.slice(1).every((p) => p.tier === "realtime" && p.seqs[0] === 2)).toBe(true);
  });

  it("fans out a group's messages from a shared group topic (PARLEY_GROUP_TOPICS a number) in order, and still those left on its own topic", async () => {
    await act("ann", "connect");
    await post(1, "olive", "per-group");
    for (let seq = 2; seq <= 4; seq++) await post(seq, "olive", 16);
    await drain();
    const annOnGw2 = inbox.pushed.filter((p) => p.gatewayId === "gw-2" && p.connectionIds.includes("c-ann-2"));
    expect(annOnGw2.flatMap((p) => p.seqs)).toEqual([1, 2, 3, 4]);
  });

  it("does not ask to notify the sender of their own message when their device has gone by the time it fans out", async () => {
    await registry.unregister(ROUTES[0] as DeviceRoute);
    await post(1);
    await drain();
    expect(notified).toEqual(["otto"]);
  });
});

describe("FanoutService with several groups processes", () => {
  let second: FanoutService | undefined;

  afterEach(async () => {
    await second?.stop();
    second = undefined;
  });

  it("gives active members real-time delivery whichever process fans out the group", async () => {
    // Two groups replicas on one bus: the group topic goes to one of them, each member's
    // activity (keyed by user) would go to one of them too if they shared a reader.
    second = new FanoutService(
      { clusterName: CLUSTER, activeScoreThreshold: 1, activityHalfLifeMs: HALF_LIFE_MS, idleBatchDelayMs: DELAY_MS, idleBatchMaxMessages: 50, groupTopics: 16, processId: "second" },
      { bus, groups, registry, heldBatches, router: new DeliveryRouter(registry, channel), metrics: new Metrics(), logger: createLogger("silent"), now: clock.now },
    );
    await second.start();
    await act("ann", "connect");
    await act("ian", "connect");
    await post(1);

    await inbox.until(2);
    expect(inbox.pushed.flatMap((p) => p.connectionIds).sort()).toEqual(["c-ann-1", "c-ann-2", "c-ian", "c-olive"]);
    expect(inbox.pushed.every((p) => p.tier === "realtime")).toBe(true);
  });
});

describe("FanoutService in a big group", () => {
  /** `count` members with no connection, added to the group beside olive, ann, ian and otto. */
  async function addOfflineMembers(count: number): Promise<UserId[]> {
    const userIds = Array.from({ length: count }, (_, i) => `off-${i}`);
    await groups.addMembers(GROUP, userIds.map((userId) => ({ userId, role: "member" as const })), 100_000);
    return userIds;
  }

  it("asks to notify all offline members of a message in one request, not one per member", async () => {
    await addOfflineMembers(600);
    await post(1);
    await drain();
    expect(requests).toHaveLength(1);
    expect(requests[0]?.userIds).toHaveLength(601);
    expect(requests[0]).toMatchObject({ groupId: GROUP, messageId: "m1", senderId: "olive", seq: 1 });
    expect(new Set(notified)).toEqual(new Set(["otto", ...Array.from({ length: 600 }, (_, i) => `off-${i}`)]));
  });

  it("splits a huge group's offline members into a few requests of at most 1,000", async () => {
    await addOfflineMembers(2_500);
    await post(1);
    await drain();
    expect(requests.map((request) => request.userIds.length)).toEqual([1_000, 1_000, 501]);
    expect(new Set(notified).size).toBe(2_501);
  });

  it("lets the rest of the process run while it fans out: a callback queued when it starts runs before it ends", async () => {
    // Connected but idle: held for a batch, so the fan-out itself sends nothing that could yield.
    const idle = await addOfflineMembers(3_000);
    for (const userId of idle) await registry.register({ userId, deviceId: "phone", connectionId: `c-${userId}`, gatewayId: "gw-1" }, ROUTE_TTL_MS);
    const order: string[] = [];
    const lookUp = registry.routesForUsers.bind(registry);
    vi.spyOn(registry, "routesForUsers").mockImplementation((userIds) => {
      if (order.length === 0) {
        setImmediate(() => {
          order.push("queued callback");
        });
      }
      order.push("look-up");
      return lookUp(userIds);
    });
    await post(1);
    await drain();
    // Members are looked up chunk by chunk, and the callback ran between two chunks.
    expect(order.filter((step) => step === "look-up")).toHaveLength(Math.ceil(3_004 / FANOUT_CHUNK_MEMBERS));
    const callbackAt = order.indexOf("queued callback");
    expect(callbackAt).toBeGreaterThan(0);
    expect(callbackAt).toBeLessThan(order.lastIndexOf("look-up"));
  });

  it("still pushes every active member of a big group at once, whichever chunk they are in", async () => {
    const offline = await addOfflineMembers(1_200);
    // The last member added, far past the first chunk, connects and acts.
    const late = offline[offline.length - 1] ?? "";
    await registry.register({ userId: late, deviceId: "phone", connectionId: "c-late", gatewayId: "gw-1" }, ROUTE_TTL_MS);
    await act(late, "send");
    await post(1);
    await drain();
    expect(inbox.pushed.some((p) => p.tier === "realtime" && p.connectionIds.includes("c-late"))).toBe(true);
    expect(notified).not.toContain(late);
  });
});
