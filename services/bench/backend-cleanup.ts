/**
 * Removes what a benchmark created on the shared back ends, by name prefix: Kafka topics
 * and consumer groups, Redis keys. Shared by real-backends.ts and the adapters' benches.
 */
import { Cluster } from "ioredis";
import kafkajs from "kafkajs";
import type { RedisClient } from "../adapters/redis/redis-client.js";
import { deleteGroupsWithPrefix, deleteTopicsWithPrefix } from "../adapters/kafka/topic-admin.js";

/** Deletes the consumer groups, then the topics, whose names start with `prefix`; returns how many of each. */
export async function deleteKafkaPrefix(brokers: readonly string[], prefix: string): Promise<{ consumerGroups: number; topics: number }> {
  // An admin client of its own: see deleteTopicsWithPrefix.
  const admin = new kafkajs.Kafka({ clientId: "bench-cleanup", brokers: [...brokers], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const consumerGroups = (await deleteGroupsWithPrefix(admin, prefix)).length;
    const topics = (await deleteTopicsWithPrefix(admin, prefix)).length;
    return { consumerGroups, topics };
  } finally {
    await admin.disconnect();
  }
}

/** UNLINKs the keys matching `pattern` (SCAN syntax) on every master; returns how many went. */
export async function unlinkKeys(client: RedisClient, pattern: string): Promise<number> {
  const cluster = client instanceof Cluster;
  let removed = 0;
  for (const node of cluster ? client.nodes("master") : [client]) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length === 0) continue;
      // In a cluster one batch's keys may hash to different slots: one UNLINK each.
      const counts = cluster ? await Promise.all(keys.map((key) => client.unlink(key))) : [await client.unlink(...keys)];
      removed += counts.reduce((sum, n) => sum + n, 0);
    } while (cursor !== "0");
  }
  return removed;
}
