import { afterEach, describe, expect, it } from "vitest";
import { closeClient, createRedisClient, type RedisClient } from "../adapters/redis/redis-client.js";
import { RedisHeldBatchStore } from "../adapters/redis/redis-held-batch-store.js";
import { deleteKeysWithPrefix, redisTargets, uniqueKeyPrefix } from "../adapters/redis/testing/redis-test-support.js";
import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";
import { IdleBatcher } from "./idle-batcher.js";
import { groupMessage } from "../testing/group-message.js";

/** Short real times: the store is real Redis, whose client runs on real timers. */
const DELAY_MS = 300;
const SWEEP_MS = 50;

const message = (seq: number): Message => groupMessage(seq);

interface Replica {
  batcher: IdleBatcher;
  store: RedisHeldBatchStore;
  client: RedisClient;
}

for (const target of redisTargets()) {
  describe(`IdleBatcher on ${target.name} Redis`, () => {
    const keyPrefix = uniqueKeyPrefix();
    const replicas: Replica[] = [];

    /** A groups replica with its own Redis connection; `flush` receives its releases. */
    function replica(flush: (userId: UserId, messages: Message[]) => void): Replica {
      const client = createRedisClient(target.options());
      const store = new RedisHeldBatchStore(client, { keyPrefix });
      const batcher = new IdleBatcher(store, { delayMs: DELAY_MS, maxMessages: 50, sweepIntervalMs: SWEEP_MS }, flush, Date.now, () => {
        // A killed replica's timer fails on its dead connection: that is the case under test.
      });
      batcher.start();
      const created = { batcher, store, client };
      replicas.push(created);
      return created;
    }

    afterEach(async () => {
      for (const { batcher, client } of replicas.splice(0)) {
        batcher.stop();
        await closeClient(client);
      }
      await deleteKeysWithPrefix(target.client(), keyPrefix);
    });

    it("releases, once, the batches a replica killed mid-delay held, from another replica when they are due", async () => {
      let bobReleased: (release: { seqs: number[]; at: number }) => void = () => undefined;
      const released = new Promise<{ seqs: number[]; at: number }>((resolve) => (bobReleased = resolve));
      const survivor = replica((userId, messages) => {
        if (userId === "bob") bobReleased({ seqs: messages.map((m) => m.seq), at: Date.now() });
      });
      const byDoomed: UserId[] = [];
      const doomed = replica((userId) => byDoomed.push(userId));

      const openedAt = Date.now();
      await doomed.batcher.add(["bob"], message(1));
      await survivor.batcher.add(["bob"], message(2));
      // kill -9: the connection drops without a word; the doomed replica's timer finds no Redis.
      doomed.client.disconnect();

      const bob = await released;
      expect(bob.seqs).toEqual([1, 2]);
      expect(bob.at - openedAt).toBeGreaterThanOrEqual(DELAY_MS);
      expect(byDoomed).toEqual([]);
      // Nothing is left for anyone to release twice.
      expect(await survivor.store.takeDue(Date.now() + 60 * 60_000, 100)).toEqual([]);
    });
  });
}
