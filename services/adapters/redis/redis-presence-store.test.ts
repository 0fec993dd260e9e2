import { describe, expect, it } from "vitest";
import { describePresenceStoreContract } from "../../ports/contract/presence-store.contract.js";
import type { ExpiredPresence } from "../../ports/presence-store.js";
import { testTime } from "../../testing/test-time.js";
import { RedisPresenceStore } from "./redis-presence-store.js";
import { deleteKeysWithPrefix, redisTargets, uniqueKeyPrefix } from "./testing/redis-test-support.js";

/** Real time: expiry is measured on the Redis server's clock, which no test can move. */
const time = testTime(undefined);

for (const target of redisTargets()) {
  describePresenceStoreContract(`RedisPresenceStore on ${target.name} Redis`, () => {
    const client = target.client();
    const keyPrefix = uniqueKeyPrefix();
    const store = new RedisPresenceStore(client, { keyPrefix });
    return Promise.resolve({
      store,
      advance: undefined,
      cleanup: async () => {
        await store.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      },
    });
  });

  describe(`RedisPresenceStore on ${target.name} Redis`, () => {
    it("reports a crashed user once when presence services on separate connections sweep together", async () => {
      const keyPrefix = uniqueKeyPrefix();
      // Each store builds (and closes) its own client, like separate presence service pods.
      const pod = (): RedisPresenceStore => new RedisPresenceStore(target.options(), { keyPrefix });
      const stores = [pod(), pod(), pod()] as const;
      const at = new Date(Date.UTC(2030, 0, 1));
      try {
        await stores[0].markOnline("alice", "phone", time.ttlMs, at);
        await stores[1].markOnline("alice", "laptop", time.ttlMs, at);
        await stores[2].markOnline("bob", "phone", time.ttlMs * 100, at);
        const reported: ExpiredPresence[] = [];
        await time.until(async () => {
          reported.push(...(await Promise.all(stores.map((store) => store.expire()))).flat());
          return reported.length > 0;
        }, time.ttlMs);
        // A few more rounds: nobody may report Alice again.
        for (let round = 0; round < 3; round++) reported.push(...(await Promise.all(stores.map((store) => store.expire()))).flat());
        expect(reported).toEqual([{ userId: "alice", lastSeen: at }]);
        expect((await stores[1].get("bob")).online).toBe(true);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
        await deleteKeysWithPrefix(target.client(), keyPrefix);
      }
    });

    it("finds users due for expiry across all shards of its due index", async () => {
      const client = target.client();
      const keyPrefix = uniqueKeyPrefix();
      const store = new RedisPresenceStore(client, { keyPrefix, dueShards: 4 });
      const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
      const at = new Date(Date.UTC(2030, 0, 1));
      try {
        await Promise.all(users.map((user) => store.markOnline(user, "phone", time.ttlMs, at)));
        const reported: string[] = [];
        await time.until(async () => {
          reported.push(...(await store.expire()).map((e) => e.userId));
          return reported.length >= users.length;
        }, time.ttlMs);
        expect(reported.sort()).toEqual([...users].sort());
      } finally {
        await store.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      }
    });
  });
}
