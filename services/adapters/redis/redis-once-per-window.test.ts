import { describe, expect, it } from "vitest";
import { describeOncePerWindowContract } from "../../ports/contract/once-per-window.contract.js";
import { RedisOncePerWindow } from "./redis-once-per-window.js";
import { deleteKeysWithPrefix, redisTargets, uniqueKeyPrefix } from "./testing/redis-test-support.js";

for (const target of redisTargets()) {
  describeOncePerWindowContract(`RedisOncePerWindow on ${target.name} Redis`, () => {
    const client = target.client();
    const keyPrefix = uniqueKeyPrefix();
    const store = new RedisOncePerWindow(client, { keyPrefix });
    return Promise.resolve({
      store,
      advance: undefined,
      cleanup: async () => {
        await store.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      },
    });
  });

  describe(`RedisOncePerWindow on ${target.name} Redis`, () => {
    it("grants a key to one of several replicas on their own connections", async () => {
      const keyPrefix = uniqueKeyPrefix();
      const replicas = [0, 1, 2].map(() => new RedisOncePerWindow(target.options(), { keyPrefix }));
      try {
        const granted = await Promise.all(replicas.map((replica) => replica.claim("notify:alice", 60_000)));
        expect(granted.filter(Boolean)).toHaveLength(1);
      } finally {
        await Promise.all(replicas.map((replica) => replica.close()));
        await deleteKeysWithPrefix(target.client(), keyPrefix);
      }
    });
  });
}
