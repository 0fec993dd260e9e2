import { join } from "node:path";
import { ulid } from "ulid";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ActivityEvent } from "../events/activity-event.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import { MemoryOncePerWindow } from "../adapters/embedded/memory-once-per-window.js";
import { MemoryPresenceStore } from "../adapters/embedded/memory-presence-store.js";
import { MemoryPresenceWatchStore } from "../adapters/embedded/memory-presence-watch-store.js";
import { SqliteGroupStore } from "../adapters/embedded/sqlite-group-store.js";
import { SqliteMessageStore } from "../adapters/embedded/sqlite-message-store.js";
import { SqliteUserSettingsStore } from "../adapters/embedded/sqlite-user-settings-store.js";
import { ConversationAccess } from "../conversations/conversation-access.js";
import { activityTopic } from "../events/topics.js";
import type { Session } from "../protocol/session.js";
import { createLogger } from "../runtime/logger.js";
import type { DeviceRoute } from "../ports/connection-registry.js";
import { ErrorCode } from "../protocol/errors.js";
import type { PresenceView, PushFrame } from "../protocol/frames.js";
import { groupConversationId, type UserId } from "../protocol/ids.js";
import { ManualClock } from "../testing/clock.js";
import { makeTempDir, type TempDir } from "../testing/temp-dir.js";
import { MAX_SUBSCRIPTIONS_PER_CONNECTION, PresenceService, TYPING_PUSH_INTERVAL_MS, type PushRouter } from "./presence-service.js";

const HEARTBEAT_MS = 1_000;
const TTL_MS = 3 * HEARTBEAT_MS;
const CLUSTER = "test";

interface Push {
  /** The user pushed to. */
  to: UserId;
  /** The connection, for pushes to routes; undefined for pushes to all of a user's devices. */
  connectionId: string | undefined;
  frame: PushFrame;
}

/** Records what the service pushes, synchronously, and lets a test await the next push. */
class RecordingRouter implements PushRouter {
  pushes: Push[] = [];
  private waiters: ((push: Push) => void)[] = [];

  pushToUser(userId: UserId, frame: PushFrame): Promise<number> {
    this.record({ to: userId, connectionId: undefined, frame });
    return Promise.resolve(1);
  }

  pushToRoutes(routes: readonly DeviceRoute[], frame: PushFrame): Promise<number> {
    for (const route of routes) this.record({ to: route.userId, connectionId: route.connectionId, frame });
    return Promise.resolve(routes.length);
  }

  /** Everything pushed since the last take. */
  take(): Push[] {
    const taken = this.pushes;
    this.pushes = [];
    return taken;
  }

  next(): Promise<Push> {
    const queued = this.pushes.shift();
    return queued ? Promise.resolve(queued) : new Promise((resolve) => this.waiters.push(resolve));
  }

  private record(push: Push): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(push);
    else this.pushes.push(push);
  }
}

function session(userId: UserId, connectionId: string): Session {
  return { userId, deviceId: `device-${connectionId}`, connectionId, gatewayId: "gw-1" };
}

function presencePush(to: UserId, connectionId: string, presence: PresenceView): Push {
  return { to, connectionId, frame: { type: "presence", presence } };
}

let dir: TempDir;
let clock: ManualClock;
let presenceStore: MemoryPresenceStore;
let settings: SqliteUserSettingsStore;
let messages: SqliteMessageStore;
let groups: SqliteGroupStore;
let bus: MemoryEventBus;
let router: RecordingRouter;
let service: PresenceService;

/** What every replica of the presence service shares (Redis, in production). */
interface SharedState {
  watches: MemoryPresenceWatchStore;
  claims: MemoryOncePerWindow;
}

function sharedState(now: () => number): SharedState {
  return { watches: new MemoryPresenceWatchStore(now), claims: new MemoryOncePerWindow(now) };
}

function createService(overrides: { heartbeatIntervalMs?: number; shared?: SharedState } = {}): PresenceService {
  const shared = overrides.shared ?? sharedState(clock.now);
  return new PresenceService({
    bus,
    clusterName: CLUSTER,
    heartbeatIntervalMs: overrides.heartbeatIntervalMs ?? HEARTBEAT_MS,
    presence: presenceStore,
    watches: shared.watches,
    claims: shared.claims,
    settings,
    router,
    access: new ConversationAccess(groups),
    messages,
    logger: createLogger("silent"),
  });
}

beforeEach(async () => {
  dir = await makeTempDir("parley-presence-");
  clock = new ManualClock();
  presenceStore = new MemoryPresenceStore(clock.now);
  settings = new SqliteUserSettingsStore(join(dir.path, "settings.db"));
  messages = new SqliteMessageStore(join(dir.path, "messages.db"));
  groups = new SqliteGroupStore(join(dir.path, "groups.db"));
  bus = new MemoryEventBus((error) => {
    throw error;
  });
  router = new RecordingRouter();
  service = createService();
});

afterEach(async () => {
  await service.stop();
  await bus.close();
  await Promise.all([presenceStore.close(), settings.close(), messages.close(), groups.close()]);
  await dir.remove();
});

/** `from` sends `to` one direct message. */
async function write(from: UserId, to: UserId): Promise<void> {
  await messages.appendDirectMessage({ senderId: from, senderDeviceId: "d", recipientId: to, clientMessageId: ulid(), body: { text: "hi" }, sentAt: new Date(clock.now()) });
}

/** `a` writes to `b` and `b` answers: they are contacts. */
async function converse(a: UserId, b: UserId): Promise<void> {
  await write(a, b);
  await write(b, a);
}

function activity(kind: ActivityEvent["kind"], userId: UserId, connectionId: string, conversationId?: string): ActivityEvent {
  return {
    userId,
    deviceId: `device-${connectionId}`,
    connectionId,
    gatewayId: "gw-1",
    kind,
    at: clock.now(),
    ...(conversationId === undefined ? {} : { conversationId }),
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

describe("online state", () => {
  it("pushes online at a user's first connection and offline at the last one's disconnect, nothing in between", async () => {
    await converse("alice", "bob");
    expect(await service.subscribe(session("bob", "b1"), ["alice"])).toEqual([{ userId: "alice", online: false, lastSeen: null }]);

    const connectedAt = clock.now();
    await service.handleActivity(activity("connect", "alice", "a1"));
    expect(router.take()).toEqual([presencePush("bob", "b1", { userId: "alice", online: true, lastSeen: iso(connectedAt) })]);

    clock.advance(500);
    await service.handleActivity(activity("connect", "alice", "a2"));
    clock.advance(500);
    await service.handleActivity(activity("heartbeat", "alice", "a1"));
    await service.handleActivity(activity("heartbeat", "alice", "a2"));
    clock.advance(100);
    await service.handleActivity(activity("disconnect", "alice", "a1"));
    expect(router.take()).toEqual([]);

    clock.advance(100);
    const goneAt = clock.now();
    await service.handleActivity(activity("disconnect", "alice", "a2"));
    expect(router.take()).toEqual([presencePush("bob", "b1", { userId: "alice", online: false, lastSeen: iso(goneAt) })]);
    expect(await service.subscribe(session("bob", "b1"), ["alice"])).toEqual([{ userId: "alice", online: false, lastSeen: iso(goneAt) }]);
  });

  it("announces a crashed connection offline once its mark lapses, last seen at its last heartbeat", async () => {
    await converse("alice", "bob");
    await service.subscribe(session("bob", "b1"), ["alice"]);
    await service.handleActivity(activity("connect", "alice", "a1"));
    clock.advance(HEARTBEAT_MS);
    const lastHeartbeat = clock.now();
    await service.handleActivity(activity("heartbeat", "alice", "a1"));
    await service.handleActivity(activity("heartbeat", "bob", "b1"));
    router.take();

    clock.advance(TTL_MS - 1);
    await service.sweep();
    expect(router.take()).toEqual([]);
    clock.advance(1);
    await service.sweep();
    expect(router.take()).toEqual([presencePush("bob", "b1", { userId: "alice", online: false, lastSeen: iso(lastHeartbeat) })]);
    await service.sweep();
    expect(router.take()).toEqual([]);
  });

  it("keeps a device that reconnected online when its old connection is closed late", async () => {
    await converse("alice", "bob");
    await service.subscribe(session("bob", "b1"), ["alice"]);
    await service.handleActivity({ ...activity("connect", "alice", "old"), deviceId: "phone" });
    await service.handleActivity({ ...activity("connect", "alice", "new"), deviceId: "phone" });
    await service.handleActivity({ ...activity("disconnect", "alice", "old"), deviceId: "phone" });
    expect(router.take().map((p) => p.frame)).toEqual([{ type: "presence", presence: { userId: "alice", online: true, lastSeen: iso(clock.now()) } }]);
    expect((await presenceStore.get("alice")).online).toBe(true);
  });

  it("ignores sends and reads, and typing without a conversation", async () => {
    await service.subscribe(session("alice", "a1"), ["alice"]);
    await service.handleActivity(activity("send", "alice", "a1"));
    await service.handleActivity(activity("read", "alice", "a1"));
    await service.handleActivity(activity("typing", "alice", "a1"));
    expect(router.take()).toEqual([]);
    expect(await presenceStore.get("alice")).toEqual({ online: false, lastSeen: null });
  });
});

describe("subscriptions", () => {
  it("answer once per distinct user in the order asked, and a user always sees themselves", async () => {
    await settings.update("alice", { lastSeenVisibility: "nobody" });
    await service.handleActivity(activity("connect", "alice", "a1"));
    await settings.update("carol", { lastSeenVisibility: "everyone" });
    const views = await service.subscribe(session("alice", "a2"), ["carol", "alice", "carol", "dave"]);
    expect(views).toEqual([
      { userId: "carol", online: false, lastSeen: null },
      { userId: "alice", online: true, lastSeen: iso(clock.now()) },
      // Dave sees only his contacts; Alice is not one.
      { userId: "dave", online: null, lastSeen: null },
    ]);
  });

  it("push to every subscribed connection of a viewer, and stop after unsubscribe", async () => {
    await converse("alice", "bob");
    await service.subscribe(session("bob", "b1"), ["alice"]);
    await service.subscribe(session("bob", "b2"), ["alice", "carol"]);
    await service.handleActivity(activity("connect", "alice", "a1"));
    expect(router.take().map((p) => p.connectionId).sort()).toEqual(["b1", "b2"]);

    await service.unsubscribe(session("bob", "b2"), ["alice", "dave"]);
    await service.handleActivity(activity("disconnect", "alice", "a1"));
    expect(router.take().map((p) => p.connectionId)).toEqual(["b1"]);
  });

  it("end when the subscriber's connection disconnects", async () => {
    await converse("alice", "bob");
    await service.subscribe(session("bob", "b1"), ["alice"]);
    await service.subscribe(session("bob", "b2"), ["alice"]);
    await service.handleActivity(activity("disconnect", "bob", "b1"));
    await service.handleActivity(activity("connect", "alice", "a1"));
    expect(router.take().filter((p) => p.to === "bob").map((p) => p.connectionId)).toEqual(["b2"]);
  });

  it("end when the subscriber's connection is not heard of for a heartbeat interval past the mark TTL, as when its gateway dies", async () => {
    await converse("alice", "bob");
    await converse("alice", "carol");
    await service.subscribe(session("bob", "b1"), ["alice"]);
    await service.subscribe(session("carol", "c1"), ["alice"]);
    for (let round = 0; round < 4; round++) {
      clock.advance(HEARTBEAT_MS);
      // Only Carol's gateway still reports her connection.
      await service.handleActivity(activity("heartbeat", "carol", "c1"));
      await service.sweep();
    }
    await service.handleActivity(activity("connect", "alice", "a1"));
    expect(router.take().map((p) => p.connectionId)).toEqual(["c1"]);
  });

  it(`are limited to ${MAX_SUBSCRIPTIONS_PER_CONNECTION} users per connection`, async () => {
    const users = Array.from({ length: MAX_SUBSCRIPTIONS_PER_CONNECTION }, (_, i) => `user${i}`);
    for (let i = 0; i < users.length; i += 100) await service.subscribe(session("bob", "b1"), users.slice(i, i + 100));
    // Users already watched do not count again.
    await service.subscribe(session("bob", "b1"), ["user0", "user1"]);
    await expect(service.subscribe(session("bob", "b1"), ["one-too-many"])).rejects.toMatchObject({ code: ErrorCode.invalidFrame });
    await service.unsubscribe(session("bob", "b1"), ["user0"]);
    await expect(service.subscribe(session("bob", "b1"), ["one-too-many"])).resolves.toHaveLength(1);
  });
});

describe("visibility", () => {
  const hidden = { userId: "alice", online: null, lastSeen: null };

  it("contacts (the default): conversation partners see the state, strangers null, and strangers get no pushes", async () => {
    await converse("bob", "alice");
    await service.handleActivity(activity("connect", "alice", "a1"));
    const visible = { userId: "alice", online: true, lastSeen: iso(clock.now()) };
    expect(await service.subscribe(session("bob", "b1"), ["alice"])).toEqual([visible]);
    expect(await service.subscribe(session("carol", "c1"), ["alice"])).toEqual([hidden]);

    clock.advance(10);
    await service.handleActivity(activity("disconnect", "alice", "a1"));
    expect(router.take()).toEqual([presencePush("bob", "b1", { userId: "alice", online: false, lastSeen: iso(clock.now()) })]);
  });

  it("contacts: a stranger who wrote once sees nothing, and gets no pushes, until the other answers; then both see each other", async () => {
    await write("mallory", "alice");
    await service.handleActivity(activity("connect", "alice", "a1"));
    await service.handleActivity(activity("connect", "mallory", "m1"));
    expect(await service.subscribe(session("mallory", "m2"), ["alice"])).toEqual([hidden]);
    clock.advance(10);
    await service.handleActivity(activity("disconnect", "alice", "a1"));
    expect(router.take()).toEqual([]);

    await write("alice", "mallory");
    const aliceNow = { userId: "alice", online: false, lastSeen: iso(clock.now()) };
    expect(await service.subscribe(session("mallory", "m2"), ["alice"])).toEqual([aliceNow]);
    expect(await service.subscribe(session("alice", "a2"), ["mallory"])).toEqual([{ userId: "mallory", online: true, lastSeen: iso(clock.now() - 10) }]);
  });

  it("contacts: being in a group together does not make contacts", async () => {
    const groupId = "g01J0000000000000000000000A";
    await groups.createGroup({
      groupId,
      name: "team",
      createdBy: "alice",
      createdAt: new Date(clock.now()),
      members: [
        { userId: "alice", role: "owner" },
        { userId: "bob", role: "member" },
      ],
    });
    await messages.appendGroupMessage({ groupId, senderId: "alice", senderDeviceId: "d", clientMessageId: ulid(), body: { text: "hi all" }, sentAt: new Date(clock.now()) });
    await messages.appendGroupMessage({ groupId, senderId: "bob", senderDeviceId: "d", clientMessageId: ulid(), body: { text: "hi" }, sentAt: new Date(clock.now()) });
    await service.handleActivity(activity("connect", "alice", "a1"));
    expect(await service.subscribe(session("bob", "b1"), ["alice"])).toEqual([hidden]);
  });

  it("nobody: only the user themselves sees it", async () => {
    await converse("bob", "alice");
    await settings.update("alice", { lastSeenVisibility: "nobody" });
    await service.handleActivity(activity("connect", "alice", "a1"));
    expect(await service.subscribe(session("bob", "b1"), ["alice"])).toEqual([hidden]);
    expect(await service.subscribe(session("alice", "a2"), ["alice"])).toEqual([{ userId: "alice", online: true, lastSeen: iso(clock.now()) }]);
    await service.handleActivity(activity("disconnect", "alice", "a1"));
    expect(router.take().map((p) => p.to)).toEqual(["alice"]);
  });

  it("everyone: strangers see it too", async () => {
    await settings.update("alice", { lastSeenVisibility: "everyone" });
    await service.handleActivity(activity("connect", "alice", "a1"));
    expect(await service.subscribe(session("carol", "c1"), ["alice"])).toEqual([{ userId: "alice", online: true, lastSeen: iso(clock.now()) }]);
    await service.handleActivity(activity("disconnect", "alice", "a1"));
    expect(router.take().map((p) => p.to)).toEqual(["carol"]);
  });

  it("a change is pushed at once to the subscribers it concerns: null to those who lost sight, the state to those who gained it", async () => {
    await converse("bob", "alice");
    await service.handleActivity(activity("connect", "alice", "a1"));
    const visible = { userId: "alice", online: true, lastSeen: iso(clock.now()) };
    await service.subscribe(session("bob", "b1"), ["alice"]);
    await service.subscribe(session("carol", "c1"), ["alice"]);
    await service.subscribe(session("alice", "a2"), ["alice"]);

    await service.setLastSeenVisibility("alice", "nobody");
    expect(router.take()).toEqual([presencePush("bob", "b1", hidden)]);

    await service.setLastSeenVisibility("alice", "everyone");
    const pushed = router.take();
    expect(pushed).toHaveLength(2);
    expect(pushed).toEqual(expect.arrayContaining([presencePush("bob", "b1", visible), presencePush("carol", "c1", visible)]));

    await service.setLastSeenVisibility("alice", "everyone");
    await service.setLastSeenVisibility("alice", "contacts");
    expect(router.take()).toEqual([presencePush("carol", "c1", hidden)]);
    expect(await settings.get("alice")).toEqual({ lastSeenVisibility: "contacts" });
  });
});

describe("typing", () => {
  it("is pushed to the other participant of a direct conversation, at most once per interval", async () => {
    await service.handleActivity(activity("typing", "alice", "a1", "dm:alice:bob"));
    expect(router.take()).toEqual([{ to: "bob", connectionId: undefined, frame: { type: "typing", conversationId: "dm:alice:bob", userId: "alice" } }]);

    clock.advance(TYPING_PUSH_INTERVAL_MS - 1);
    await service.handleActivity(activity("typing", "alice", "a1", "dm:alice:bob"));
    expect(router.take()).toEqual([]);
    // The limit is per conversation and per typer.
    await service.handleActivity(activity("typing", "alice", "a1", "dm:alice:carol"));
    await service.handleActivity(activity("typing", "bob", "b1", "dm:alice:bob"));
    expect(router.take().map((p) => p.to)).toEqual(["carol", "alice"]);

    clock.advance(1);
    await service.sweep();
    await service.handleActivity(activity("typing", "alice", "a1", "dm:alice:bob"));
    expect(router.take().map((p) => p.to)).toEqual(["bob"]);
  });

  it("in a conversation the typer does not take part in goes nowhere", async () => {
    await service.handleActivity(activity("typing", "carol", "c1", "dm:alice:bob"));
    const groupId = `g${ulid()}`;
    await groups.createGroup({ groupId, name: "g", createdBy: "alice", createdAt: new Date(), members: [{ userId: "alice", role: "owner" }] });
    await service.handleActivity(activity("typing", "carol", "c1", groupConversationId(groupId)));
    expect(router.take()).toEqual([]);
  });

  it("in a group goes to every other member", async () => {
    const groupId = `g${ulid()}`;
    await groups.createGroup({
      groupId,
      name: "g",
      createdBy: "alice",
      createdAt: new Date(),
      members: [
        { userId: "alice", role: "owner" },
        { userId: "bob", role: "member" },
        { userId: "dave", role: "member" },
      ],
    });
    await service.handleActivity(activity("typing", "bob", "b1", groupConversationId(groupId)));
    const pushed = router.take();
    expect(pushed.map((p) => p.to).sort()).toEqual(["alice", "dave"]);
    expect(pushed[0]?.frame).toEqual({ type: "typing", conversationId: groupConversationId(groupId), userId: "bob" });
  });
});

describe("running on the bus", () => {
  it("reads the activity topic, drops malformed events, and stops reading when stopped", async () => {
    await converse("alice", "bob");
    await service.start();
    await service.subscribe(session("bob", "b1"), ["alice"]);
    await bus.publish(activityTopic(CLUSTER).name, "alice", { kind: "connect", userId: "alice" });
    await bus.publish(activityTopic(CLUSTER).name, "alice", activity("connect", "alice", "a1"));
    expect(await router.next()).toEqual(presencePush("bob", "b1", { userId: "alice", online: true, lastSeen: iso(clock.now()) }));

    await service.stop();
    await bus.publish(activityTopic(CLUSTER).name, "alice", activity("disconnect", "alice", "a1"));
    await bus.close();
    expect(router.take()).toEqual([]);
    expect((await presenceStore.get("alice")).online).toBe(true);
  });

  it("sweeps every heartbeat interval: a user whose gateway died goes offline by expiry alone", async () => {
    await service.stop();
    presenceStore = new MemoryPresenceStore();
    service = createService({ heartbeatIntervalMs: 20, shared: sharedState(Date.now) });
    await converse("alice", "bob");
    await service.start();
    await service.subscribe(session("bob", "b1"), ["alice"]);
    // The subscriber's gateway stays alive and keeps reporting Bob's connection.
    const bobAlive = setInterval(() => void bus.publish(activityTopic(CLUSTER).name, "bob", { ...activity("heartbeat", "bob", "b1"), at: Date.now() }), 10);
    try {
      const at = Date.now();
      await bus.publish(activityTopic(CLUSTER).name, "alice", { ...activity("connect", "alice", "a1"), at });
      const online = await router.next();
      expect(online).toEqual(presencePush("bob", "b1", { userId: "alice", online: true, lastSeen: iso(at) }));
      // No heartbeat and no disconnect ever comes for Alice's connection.
      const offline = await router.next();
      expect(offline).toEqual(presencePush("bob", "b1", { userId: "alice", online: false, lastSeen: iso(at) }));
    } finally {
      clearInterval(bobAlive);
    }
  });
});

describe("several replicas sharing the watch store and the claims", () => {
  let shared: SharedState;
  let other: PresenceService;

  beforeEach(() => {
    shared = sharedState(clock.now);
    service = createService({ shared });
    other = createService({ shared });
  });

  afterEach(async () => {
    await other.stop();
  });

  it("push a change seen by one replica to a subscriber whose subscribe another replica took, on its own gateway", async () => {
    await converse("alice", "bob");
    const bobOnGateway2: Session = { ...session("bob", "b1"), gatewayId: "gw-2" };
    await service.subscribe(bobOnGateway2, ["alice"]);
    // Alice's activity partition belongs to the other replica.
    await other.handleActivity(activity("connect", "alice", "a1"));
    expect(router.take()).toEqual([presencePush("bob", "b1", { userId: "alice", online: true, lastSeen: iso(clock.now()) })]);
    await other.unsubscribe(bobOnGateway2, ["alice"]);
    await service.handleActivity(activity("disconnect", "alice", "a1"));
    expect(router.take()).toEqual([]);
  });

  it("keep a subscription alive on heartbeats read by either replica, and end it on a disconnect read by either", async () => {
    await converse("alice", "bob");
    await service.subscribe(session("bob", "b1"), ["alice"]);
    for (let round = 0; round < 4; round++) {
      clock.advance(HEARTBEAT_MS);
      await other.handleActivity(activity("heartbeat", "bob", "b1"));
    }
    await service.handleActivity(activity("connect", "alice", "a1"));
    expect(router.take().map((p) => p.connectionId)).toEqual(["b1"]);
    await other.handleActivity(activity("disconnect", "bob", "b1"));
    await service.handleActivity(activity("disconnect", "alice", "a1"));
    expect(router.take()).toEqual([]);
  });

  it("push typing once per interval whichever replica reads it", async () => {
    await converse("alice", "bob");
    const typing = activity("typing", "bob", "b1", "dm:alice:bob");
    await service.handleActivity(typing);
    await other.handleActivity(typing);
    expect(router.take().map((p) => p.to)).toEqual(["alice"]);
  });
});
