import { describeActivityScoreStoreContract } from "../../ports/contract/activity-score-store.contract.js";
import { RedisActivityScoreStore } from "./redis-activity-score-store.js";
import { deleteKeysWithPrefix, redisTargets, uniqueKeyPrefix } from "./testing/redis-test-support.js";

for (const target of redisTargets()) {
  describeActivityScoreStoreContract(`RedisActivityScoreStore on ${target.name} Redis`, () => {
    const client = target.client();
    const keyPrefix = uniqueKeyPrefix();
    const store = new RedisActivityScoreStore(client, { keyPrefix });
    return Promise.resolve({
      store,
      cleanup: async () => {
        await store.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      },
    });
  });
}
