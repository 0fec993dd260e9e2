import { randomUUID } from "node:crypto";
import { Cluster, type Redis } from "ioredis";
import { afterAll } from "vitest";
import { infraEndpoint } from "../../../testing/infra.js";
import { closeClient, createRedisClient, type RedisClient, type RedisConnectionOptions } from "../redis-client.js";

/** The two servers `hack/servers/redis.sh up` starts; every Redis adapter test runs against both. */
export interface RedisTarget {
  name: "standalone" | "cluster";
  /** Connection options from the infra endpoints (throws, failing the test, when the servers are not up). */
  options: () => RedisConnectionOptions;
  /** A client for this test file, closed after it. */
  client: () => RedisClient;
}

/** Call at the top of a test file: the targets, whose clients are closed after the file. */
export function redisTargets(): RedisTarget[] {
  return [
    target("standalone", () => ({ url: infraEndpoint("PARLEY_TEST_REDIS_URL") })),
    target("cluster", () => ({ clusterNodes: infraEndpoint("PARLEY_TEST_REDIS_CLUSTER_NODES") })),
  ];
}

function target(name: RedisTarget["name"], options: () => RedisConnectionOptions): RedisTarget {
  let shared: RedisClient | undefined;
  afterAll(async () => {
    if (shared) await closeClient(shared);
  });
  return {
    name,
    options,
    client: () => (shared ??= createRedisClient(options())),
  };
}

/** A key prefix no other test run uses. */
export function uniqueKeyPrefix(): string {
  return `parley-test:${randomUUID()}:`;
}

/** Every key under `prefix`, on every master of a cluster. */
export async function keysWithPrefix(client: RedisClient, prefix: string): Promise<string[]> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes("master") : [client];
  const found = await Promise.all(
    nodes.map(async (node) => {
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== "0");
      return keys;
    }),
  );
  return found.flat();
}

/** Removes what a test left under its prefix. */
export async function deleteKeysWithPrefix(client: RedisClient, prefix: string): Promise<void> {
  const keys = await keysWithPrefix(client, prefix);
  // One key per command: in a cluster, keys of different slots cannot share a DEL.
  await Promise.all(keys.map((key) => client.unlink(key)));
}
