import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SqliteGroupStore } from "../adapters/embedded/sqlite-group-store.js";
import { SqliteMessageStore } from "../adapters/embedded/sqlite-message-store.js";
import { SqliteUserSettingsStore } from "../adapters/embedded/sqlite-user-settings-store.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import { RedisOncePerWindow } from "../adapters/redis/redis-once-per-window.js";
import { RedisPresenceStore } from "../adapters/redis/redis-presence-store.js";
import { RedisPresenceWatchStore } from "../adapters/redis/redis-presence-watch-store.js";
import { deleteKeysWithPrefix, redisTargets, uniqueKeyPrefix } from "../adapters/redis/testing/redis-test-support.js";
import { ConversationAccess } from "../conversations/conversation-access.js";
import type { ActivityEvent } from "../events/activity-event.js";
import type { DeviceRoute } from "../ports/connection-registry.js";
import type { PushFrame } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";
import { createLogger } from "../runtime/logger.js";
import { makeTempDir, type TempDir } from "../testing/temp-dir.js";
import { PresenceService, type PushRouter } from "./presence-service.js";

/** What the replicas pushed, to which connection. */
class RecordingRouter implements PushRouter {
  readonly pushes: { to: UserId; connectionId: string | undefined; gatewayId: string | undefined; frame: PushFrame }[] = [];

  pushToUser(userId: UserId, frame: PushFrame): Promise<number> {
    this.pushes.push({ to: userId, connectionId: undefined, gatewayId: undefined, frame });
    return Promise.resolve(1);
  }

  pushToRoutes(routes: readonly DeviceRoute[], frame: PushFrame): Promise<number> {
    for (const route of routes) this.pushes.push({ to: route.userId, connectionId: route.connectionId, gatewayId: route.gatewayId, frame });
    return Promise.resolve(routes.length);
  }
}

function activity(kind: ActivityEvent["kind"], userId: UserId, connectionId: string, gatewayId: string, conversationId?: string): ActivityEvent {
  return { userId, deviceId: `device-${connectionId}`, connectionId, gatewayId, kind, at: Date.now(), ...(conversationId === undefined ? {} : { conversationId }) };
}

let dir: TempDir;
let settings: SqliteUserSettingsStore;
let messages: SqliteMessageStore;
let groups: SqliteGroupStore;

beforeAll(async () => {
  dir = await makeTempDir("parley-presence-replicas-");
  settings = new SqliteUserSettingsStore(join(dir.path, "settings.db"));
  messages = new SqliteMessageStore(join(dir.path, "messages.db"));
  groups = new SqliteGroupStore(join(dir.path, "groups.db"));
  await settings.update("alice", { lastSeenVisibility: "everyone" });
});

afterAll(async () => {
  await Promise.all([settings.close(), messages.close(), groups.close()]);
  await dir.remove();
});

for (const target of redisTargets()) {
  describe(`two presence replicas on ${target.name} Redis, each with its own connection`, () => {
    const closers: (() => Promise<void>)[] = [];

    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
    });

    /** A presence replica as `parley serve presence` builds it: its own Redis client, the cluster's key prefix. */
    function replica(keyPrefix: string, router: RecordingRouter): PresenceService {
      const options = target.options();
      const presence = new RedisPresenceStore(options, { keyPrefix });
      const watches = new RedisPresenceWatchStore(options, { keyPrefix });
      const claims = new RedisOncePerWindow(options, { keyPrefix });
      const bus = new MemoryEventBus((error) => {
        throw error;
      });
      const service = new PresenceService({
        bus,
        clusterName: "test",
        heartbeatIntervalMs: 30_000,
        presence,
        watches,
        claims,
        settings,
        router,
        access: new ConversationAccess(groups),
        messages,
        logger: createLogger("silent"),
      });
      closers.push(async () => {
        await service.stop();
        await Promise.all([bus.close(), presence.close(), watches.close(), claims.close()]);
      });
      return service;
    }

    it("push a user's change seen by one replica to a subscriber whose subscribe the other took, on the subscriber's gateway", async () => {
      const keyPrefix = uniqueKeyPrefix();
      closers.push(() => deleteKeysWithPrefix(target.client(), keyPrefix));
      const router = new RecordingRouter();
      const [first, second] = [replica(keyPrefix, router), replica(keyPrefix, router)];
      const bob = { userId: "bob", deviceId: "device-b1", connectionId: "b1", gatewayId: "gw-2" };
      expect(await first.subscribe(bob, ["alice"])).toEqual([{ userId: "alice", online: false, lastSeen: null }]);

      await second.handleActivity(activity("connect", "alice", "a1", "gw-1"));
      expect(router.pushes.map(({ to, connectionId, gatewayId, frame }) => ({ to, connectionId, gatewayId, online: frame.type === "presence" ? frame.presence.online : undefined }))).toEqual([
        { to: "bob", connectionId: "b1", gatewayId: "gw-2", online: true },
      ]);

      // Bob's disconnect, read by the replica that did not take his subscribe, ends it for both.
      await second.handleActivity(activity("disconnect", "bob", "b1", "gw-2"));
      await first.handleActivity(activity("disconnect", "alice", "a1", "gw-1"));
      expect(router.pushes).toHaveLength(1);
    });

    it("push typing once per interval between them", async () => {
      const keyPrefix = uniqueKeyPrefix();
      closers.push(() => deleteKeysWithPrefix(target.client(), keyPrefix));
      const router = new RecordingRouter();
      const [first, second] = [replica(keyPrefix, router), replica(keyPrefix, router)];
      const typing = activity("typing", "alice", "a1", "gw-1", "dm:alice:bob");
      await Promise.all([first.handleActivity(typing), second.handleActivity(typing)]);
      expect(router.pushes.map((push) => push.to)).toEqual(["bob"]);
    });
  });
}
