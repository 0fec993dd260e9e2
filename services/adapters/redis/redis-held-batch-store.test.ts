import { describe, expect, it } from "vitest";
import { describeHeldBatchStoreContract } from "../../ports/contract/held-batch-store.contract.js";
import type { HeldBatchStore } from "../../ports/held-batch-store.js";
import type { Message } from "../../protocol/frames.js";
import { RedisHeldBatchStore } from "./redis-held-batch-store.js";
import { deleteKeysWithPrefix, keysWithPrefix, redisTargets, uniqueKeyPrefix } from "./testing/redis-test-support.js";

const T0 = Date.UTC(2030, 0, 1, 12);
const LIMITS = { delayMs: 5_000, maxMessages: 3 };
const MESSAGE = {
  messageId: "m1",
  conversationId: "grp:g01JZ0000000000000000000001",
  groupId: "g01JZ0000000000000000000001",
  seq: 1,
  senderId: "olive",
  senderDeviceId: "phone",
  clientMessageId: "c1",
  body: { text: "news" },
  sentAt: new Date(T0).toISOString(),
} as Message;

for (const target of redisTargets()) {
  describeHeldBatchStoreContract(`RedisHeldBatchStore on ${target.name} Redis`, () => {
    const client = target.client();
    const keyPrefix = uniqueKeyPrefix();
    const store = new RedisHeldBatchStore(client, { keyPrefix });
    // Each replica on its own connection, like separate groups pods.
    const replicas: HeldBatchStore[] = [];
    return Promise.resolve({
      store,
      replica: () => {
        const replica = new RedisHeldBatchStore(target.options(), { keyPrefix });
        replicas.push(replica);
        return replica;
      },
      cleanup: async () => {
        await Promise.all([store, ...replicas].map((s) => s.close()));
        await deleteKeysWithPrefix(client, keyPrefix);
      },
    });
  });

  describe(`RedisHeldBatchStore on ${target.name} Redis`, () => {
    it("lets another sweep take a batch whose claimer died before taking it, once the claim's lease is over", async () => {
      const client = target.client();
      const keyPrefix = uniqueKeyPrefix();
      const store = new RedisHeldBatchStore(client, { keyPrefix, dueShards: 1, claimLeaseMs: 1_000 });
      try {
        await store.hold(["bob"], MESSAGE, T0, LIMITS);
        // A sweep that claims and then dies: the claim script alone, as the store runs it.
        const [dueKey] = (await keysWithPrefix(client, keyPrefix)).filter((key) => key.endsWith("held:due:0"));
        expect(dueKey).toBeDefined();
        await client.zadd(dueKey as string, "XX", T0 + 5_000 + 1_000, "bob");
        expect(await store.takeDue(T0 + 5_500, 100)).toEqual([]);
        expect(await store.takeDue(T0 + 6_000, 100)).toEqual([{ userId: "bob", messages: [MESSAGE] }]);
      } finally {
        await store.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      }
    });

    it("leaves nothing behind once every batch was taken, whether due or full", async () => {
      const client = target.client();
      const keyPrefix = uniqueKeyPrefix();
      const store = new RedisHeldBatchStore(client, { keyPrefix });
      try {
        await store.hold(["bob", "ann"], MESSAGE, T0, LIMITS);
        expect(await store.takeDue(T0 + 5_000, 100)).toHaveLength(2);
        const [carol] = await store.hold(["carol"], MESSAGE, T0, { delayMs: 5_000, maxMessages: 1 });
        expect(carol?.full).toEqual([MESSAGE]);
        expect(await keysWithPrefix(client, keyPrefix)).toEqual([]);
      } finally {
        await store.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      }
    });
  });
}
