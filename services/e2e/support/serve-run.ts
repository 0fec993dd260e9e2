import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { connectTestClient } from "../../adapters/cassandra/testing/test-keyspace.js";
import { deleteGroupsWithPrefix, deleteTopicsWithPrefix } from "../../adapters/kafka/topic-admin.js";
import { createS3Client } from "../../adapters/s3/s3-blob-store.js";
import { redisKeyPrefix, topicPrefix } from "../../events/cluster-names.js";
import { infraEndpoint } from "../../testing/infra.js";

/**
 * The names one run of the suites in the production shape gives what it creates on the
 * shared servers, all derived from one run id so that the run's end can find and remove
 * every one of them: clusters (Kafka topics and groups, Redis keys) `e2e<run>p<id>`,
 * keyspaces `parley_e2e_<run>_<file>`, buckets `parley-e2e-<run>-<file>`.
 */
export interface ServeRunNames {
  cluster(id: string): string;
  keyspace(file: string): string;
  bucket(file: string): string;
}

export function newRunId(): string {
  return randomBytes(4).toString("hex");
}

export function serveRunNames(run: string): ServeRunNames {
  return {
    cluster: (id) => `e2e${run}p${id}`,
    keyspace: (file) => `parley_e2e_${run}_${file}`,
    bucket: (file) => `parley-e2e-${run}-${file}`,
  };
}

/** A client of the S3 server of hack/infra.sh; destroy its agent when done. */
export function infraS3Client(): ReturnType<typeof createS3Client> {
  return createS3Client({
    endPoint: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"),
    accessKey: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
    secretKey: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
    region: infraEndpoint("PARLEY_TEST_S3_REGION"),
  });
}

/** The environment every process of the run shares: where the real back ends are. */
export function backendEnv(): Record<string, string> {
  return {
    PARLEY_KAFKA_BROKERS: infraEndpoint("PARLEY_TEST_KAFKA_BROKERS"),
    PARLEY_KAFKA_PARTITIONS: "3",
    PARLEY_KAFKA_REPLICATION_FACTOR: "1",
    PARLEY_CASSANDRA_CONTACT_POINTS: infraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS"),
    PARLEY_CASSANDRA_LOCAL_DC: infraEndpoint("PARLEY_TEST_CASSANDRA_DC"),
    PARLEY_CASSANDRA_REPLICATION: "1",
    PARLEY_REDIS_URL: infraEndpoint("PARLEY_TEST_REDIS_URL"),
    PARLEY_S3_ENDPOINT: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"),
    PARLEY_S3_ACCESS_KEY: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
    PARLEY_S3_SECRET_KEY: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
    PARLEY_S3_REGION: infraEndpoint("PARLEY_TEST_S3_REGION"),
  };
}

/**
 * Removes what a run left on the shared servers, whichever files ran and however they
 * ended: Kafka topics and consumer groups, Redis keys, keyspaces and buckets named for it.
 */
export async function removeRunState(run: string): Promise<void> {
  const names = serveRunNames(run);
  // Every cluster of the run is named `e2e<run>p<id>`: its topics and keys start with the
  // cluster prefix of `e2e<run>p` less its final separator.
  const clusters = names.cluster("");
  await Promise.all([
    removeKafkaState(topicPrefix(clusters).slice(0, -1)),
    removeRedisKeys(redisKeyPrefix(clusters).slice(0, -1)),
    removeKeyspaces(names.keyspace("")),
    removeBuckets(names.bucket("")),
  ]);
}

async function removeKafkaState(prefix: string): Promise<void> {
  const admin = new Kafka({ clientId: "e2e-serve-cleanup", brokers: infraEndpoint("PARLEY_TEST_KAFKA_BROKERS").split(","), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await deleteGroupsWithPrefix(admin, prefix);
    await deleteTopicsWithPrefix(admin, prefix);
  } finally {
    await admin.disconnect();
  }
}

async function removeRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(infraEndpoint("PARLEY_TEST_REDIS_URL"), { lazyConnect: true });
  await redis.connect();
  try {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) keys.push(...batch);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  } finally {
    redis.disconnect();
  }
}

async function removeKeyspaces(prefix: string): Promise<void> {
  const cassandra = await connectTestClient();
  try {
    const { rows } = await cassandra.execute("SELECT keyspace_name FROM system_schema.keyspaces");
    for (const row of rows) {
      const name = String(row.get("keyspace_name"));
      if (name.startsWith(prefix)) await cassandra.execute(`DROP KEYSPACE IF EXISTS ${name}`);
    }
  } finally {
    await cassandra.shutdown();
  }
}

async function removeBuckets(prefix: string): Promise<void> {
  const s3 = infraS3Client();
  try {
    for (const { name: bucket } of await s3.client.listBuckets()) {
      if (!bucket.startsWith(prefix)) continue;
      const objects: string[] = [];
      for await (const item of s3.client.listObjectsV2(bucket, "", true) as AsyncIterable<{ name?: string }>) if (item.name) objects.push(item.name);
      if (objects.length > 0) await s3.client.removeObjects(bucket, objects);
      await s3.client.removeBucket(bucket);
    }
  } finally {
    s3.agent.destroy();
  }
}
