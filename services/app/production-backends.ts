import type { Client as CassandraClient } from "cassandra-driver";
import { CassandraAssetStore } from "../adapters/cassandra/cassandra-asset-store.js";
import { CassandraGroupStore } from "../adapters/cassandra/cassandra-group-store.js";
import { CassandraMessageStore } from "../adapters/cassandra/cassandra-message-store.js";
import type { CassandraOptions } from "../adapters/cassandra/cassandra-options.js";
import { CassandraUserSettingsStore } from "../adapters/cassandra/cassandra-user-settings-store.js";
import { connectAndMigrate } from "../adapters/cassandra/migrations.js";
import { KafkaEventBus } from "../adapters/kafka/kafka-event-bus.js";
import { RedisConnectionRegistry } from "../adapters/redis/redis-connection-registry.js";
import { createRedisClient, closeClient, type RedisConnectionOptions } from "../adapters/redis/redis-client.js";
import { RedisDeliveryChannel } from "../adapters/redis/redis-delivery-channel.js";
import { RedisHeldBatchStore } from "../adapters/redis/redis-held-batch-store.js";
import { RedisOncePerWindow } from "../adapters/redis/redis-once-per-window.js";
import { RedisPresenceStore } from "../adapters/redis/redis-presence-store.js";
import { RedisPresenceWatchStore } from "../adapters/redis/redis-presence-watch-store.js";
import { S3BlobStore } from "../adapters/s3/s3-blob-store.js";
import type { Backends } from "./backends.js";
import { redisKeyPrefix, topicPrefix } from "../events/cluster-names.js";
import { parseReplication } from "../events/replication.js";
import { ConfigError, type Config } from "../runtime/config.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";

/**
 * The production back ends, from configuration: Kafka for the event bus, Cassandra for
 * every durable store (one client, schema migrated on open), Redis for the connection
 * registry, presence, presence watches, once-per-window claims and the delivery channel
 * (one client, plus the channel's own subscriber connection), S3 for blobs.
 */
export async function openProductionBackends(config: Config, logger: Logger, metrics: Metrics): Promise<Backends> {
  const required = requireBackendSettings(config);
  const opened: { close(): Promise<void> }[] = [];
  const closeAll = async (): Promise<void> => {
    for (const adapter of opened.reverse()) {
      await adapter.close().catch((error: unknown) => {
        logger.warn({ err: error }, "closing a back end failed");
      });
    }
  };
  try {
    const bus = await KafkaEventBus.connect({
      brokers: required.kafkaBrokers,
      clientId: `parley-${config.clusterName}`,
      // Every process of a cluster shares consumer groups by service role.
      groupPrefix: topicPrefix(config.clusterName),
      partitions: config.kafkaPartitions,
      replicationFactor: config.kafkaReplicationFactor,
      onHandlerError: (error, event) => {
        logger.error({ err: error, topic: event.topic }, "event handler failed; event skipped");
      },
      onError: (error, context) => {
        logger.warn({ err: error, context }, "kafka background error");
      },
      onConsumerLag: (group, lag) => {
        if (lag === undefined) metrics.kafkaConsumerLag.remove({ group });
        else metrics.kafkaConsumerLag.set({ group }, lag);
      },
    });
    opened.push(bus);

    const cassandraOptions: CassandraOptions = {
      contactPoints: required.cassandraContactPoints,
      localDataCenter: config.cassandraLocalDataCenter,
      keyspace: config.cassandraKeyspace,
      replication: parseReplication(config.cassandraReplication),
      consistency: { read: config.cassandraConsistency, write: config.cassandraConsistency },
      ...(config.cassandraUsername !== undefined && config.cassandraPassword !== undefined
        ? { credentials: { username: config.cassandraUsername, password: config.cassandraPassword } }
        : {}),
    };
    const cassandra: CassandraClient = await connectAndMigrate(cassandraOptions);
    opened.push({ close: () => cassandra.shutdown() });
    const messages = new CassandraMessageStore(cassandra, cassandraOptions);
    const groups = new CassandraGroupStore(cassandra, cassandraOptions);
    const settings = new CassandraUserSettingsStore(cassandra, cassandraOptions);
    const assets = new CassandraAssetStore(cassandra, cassandraOptions);

    const redisOptions: RedisConnectionOptions =
      config.redisUrl !== undefined
        ? { url: config.redisUrl }
        : { clusterNodes: required.redisClusterNodes, ...(config.redisPassword === undefined ? {} : { password: config.redisPassword }) };
    const redis = createRedisClient(redisOptions);
    opened.push({ close: () => closeClient(redis) });
    const keyPrefix = redisKeyPrefix(config.clusterName);
    const registry = new RedisConnectionRegistry(redis, { keyPrefix });
    const presence = new RedisPresenceStore(redis, { keyPrefix });
    const watches = new RedisPresenceWatchStore(redis, { keyPrefix });
    const claims = new RedisOncePerWindow(redis, { keyPrefix });
    const heldBatches = new RedisHeldBatchStore(redis, { keyPrefix });
    // The channel opens its own subscriber connection from the options.
    const deliveries = new RedisDeliveryChannel(redisOptions, { keyPrefix });
    opened.push(deliveries);

    const blobs = await S3BlobStore.open({
      endPoint: required.s3Endpoint,
      // Without static keys the client signs with the pod's AWS identity (IRSA, container or instance role).
      ...(config.s3AccessKey !== undefined && config.s3SecretKey !== undefined ? { accessKey: config.s3AccessKey, secretKey: config.s3SecretKey } : {}),
      region: config.s3Region,
      bucket: config.s3Bucket,
    });
    opened.push(blobs);

    return { bus, deliveries, registry, messages, groups, presence, watches, claims, heldBatches, settings, assets, blobs, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The settings `parley serve` cannot run without, all missing ones reported at once. */
function requireBackendSettings(config: Config): {
  kafkaBrokers: string[];
  cassandraContactPoints: string[];
  redisClusterNodes: string[];
  s3Endpoint: string;
} {
  const problems: string[] = [];
  const need = <T>(value: T | undefined, message: string): T => {
    if (value === undefined) problems.push(message);
    return value as T;
  };
  const result = {
    kafkaBrokers: need(config.kafkaBrokers, "PARLEY_KAFKA_BROKERS: required by parley serve (Kafka bootstrap servers)"),
    cassandraContactPoints: need(config.cassandraContactPoints, "PARLEY_CASSANDRA_CONTACT_POINTS: required by parley serve"),
    redisClusterNodes: config.redisClusterNodes ?? [],
    s3Endpoint: need(config.s3Endpoint, "PARLEY_S3_ENDPOINT: required by parley serve"),
  };
  if ((config.s3AccessKey === undefined) !== (config.s3SecretKey === undefined)) {
    problems.push("PARLEY_S3_ACCESS_KEY and PARLEY_S3_SECRET_KEY: set both, or neither to use the pod's AWS identity");
  }
  if ((config.redisUrl === undefined) === (config.redisClusterNodes === undefined)) {
    problems.push("PARLEY_REDIS_URL or PARLEY_REDIS_CLUSTER_NODES: set exactly one");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result;
}
