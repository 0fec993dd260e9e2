import { describe, expect, it } from "vitest";
import { describePresenceWatchStoreContract } from "../../ports/contract/presence-watch-store.contract.js";
import { RedisPresenceWatchStore } from "./redis-presence-watch-store.js";
import { deleteKeysWithPrefix, redisTargets, uniqueKeyPrefix } from "./testing/redis-test-support.js";

for (const target of redisTargets()) {
  describePresenceWatchStoreContract(`RedisPresenceWatchStore on ${target.name} Redis`, () => {
    const client = target.client();
    const keyPrefix = uniqueKeyPrefix();
    const store = new RedisPresenceWatchStore(client, { keyPrefix });
    return Promise.resolve({
      store,
      advance: undefined,
      cleanup: async () => {
        await store.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      },
    });
  });

  describe(`RedisPresenceWatchStore on ${target.name} Redis`, () => {
    it("shows a watch taken by one replica to another on its own connection, and its drop too", async () => {
      const keyPrefix = uniqueKeyPrefix();
      const [first, second] = [0, 1].map(() => new RedisPresenceWatchStore(target.options(), { keyPrefix }));
      if (!first || !second) throw new Error("two replicas expected");
      const bob = { userId: "bob", deviceId: "phone", connectionId: "b1", gatewayId: "gw-1" };
      try {
        await first.watch(bob, ["alice"], 60_000, 10);
        expect(await second.watchersOf("alice")).toEqual([bob]);
        await second.drop("b1");
        expect(await first.watchersOf("alice")).toEqual([]);
      } finally {
        await Promise.all([first.close(), second.close()]);
        await deleteKeysWithPrefix(target.client(), keyPrefix);
      }
    });

    it("refuses a connection id with braces rather than mis-shard it", async () => {
      const store = new RedisPresenceWatchStore(target.client(), { keyPrefix: uniqueKeyPrefix() });
      await expect(store.renew("a{b}", 1_000)).rejects.toThrow(/not a user id/);
    });
  });
}
