import cassandra from "cassandra-driver";
import kafkajs from "kafkajs";
import type { Admin } from "kafkajs";
import type { BucketItem, Client as S3Client } from "minio";
import { checkedKeyspace, connectCassandra } from "../../services/adapters/cassandra/cassandra-options.js";
import { runMigrations } from "../../services/adapters/cassandra/migrations.js";
import { deleteGroupsWithPrefix, deleteTopicsWithPrefix, ensureTopic } from "../../services/adapters/kafka/topic-admin.js";
import { createS3Client, ensureBucket } from "../../services/adapters/s3/s3-blob-store.js";
import { FRAME_OWNER_NAMES } from "../../services/events/service-names.js";
import { SETTINGS } from "../../services/runtime/config.js";
import { activityTopic, groupShardTopicNames, groupTopics as groupTopicFamily, notificationTopic, requestTopic } from "../../services/events/topics.js";
import type { ClusterView } from "../builders/cluster.js";
import { groupTopicLayoutOf, replicationOf } from "../builders/environment.js";
import { type CassandraOutcome, type Credentials, type ExternalState, type KafkaOutcome } from "./external-state.js";

const { Kafka, logLevel } = kafkajs;

/** The base topics of a cluster, in a fixed order: the shared group topics included, created before any group needs one. */
export function baseTopics(view: ClusterView): string[] {
  const { clusterName } = view;
  const layout = groupTopicLayoutOf(view.spec.kafka.groupTopics.shared) ?? SETTINGS.groupTopics.default;
  return [
    activityTopic(clusterName).name,
    notificationTopic(clusterName).name,
    ...FRAME_OWNER_NAMES.map((service) => requestTopic(clusterName, service).name),
    ...groupShardTopicNames(clusterName, layout),
  ];
}

/**
 * ExternalState on the real back ends, through the production adapters' own setup code:
 * topic-admin (ensureTopic, deleteTopicsWithPrefix), the Cassandra migration runner and
 * the S3 store's ensureBucket. Each call opens its own short-lived connection: they run
 * when a cluster's back-end settings change and every few minutes, not per request.
 */
export class AdapterExternalState implements ExternalState {
  async ensureKafka(view: ClusterView, credentials: Credentials): Promise<KafkaOutcome> {
    const { kafka } = view.spec;
    const topicConfigs = { "min.insync.replicas": String(Math.min(2, kafka.replicationFactor)) };
    return this.withAdmin(view, async (admin) => {
      const topics = baseTopics(view);
      const created: string[] = [];
      for (const topic of topics) {
        const result = await ensureTopic(admin, topic, kafka.partitions, kafka.replicationFactor, topicConfigs);
        if (result.created) created.push(topic);
      }

      const { prefix } = groupTopicFamily(view.clusterName);
      const groupTopics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
      const deleted = kafka.groupTopics.deleteWithGroup ? await this.orphanedGroupTopics(view, credentials, groupTopics, prefix) : [];
      if (deleted.length > 0) await admin.deleteTopics({ topics: deleted });
      const updated: string[] = [];
      const partitions = kafka.groupTopics.partitions ?? kafka.partitions;
      for (const topic of groupTopics.filter((t) => !deleted.includes(t))) {
        const result = await ensureTopic(admin, topic, partitions, kafka.replicationFactor, { "retention.ms": String(kafka.groupTopics.retentionMs) });
        if (result.partitions !== result.partitionsBefore || result.changedConfigs.length > 0) updated.push(topic);
      }
      return { created, baseTopics: topics, groupTopicsUpdated: updated, groupTopicsDeleted: deleted, groupTopics: groupTopics.length };
    });
  }

  async ensureCassandra(view: ClusterView, credentials: Credentials): Promise<CassandraOutcome> {
    const { cassandra: spec } = view.spec;
    return this.withCassandra(view, credentials, async (client) => {
      const result = await runMigrations(client, {
        keyspace: spec.keyspace,
        replication: replicationOf(view),
        consistency: { read: spec.consistency, write: spec.consistency },
      });
      return { schemaVersion: result.version, applied: result.applied };
    });
  }

  async ensureBucket(view: ClusterView, credentials: Credentials): Promise<{ created: boolean }> {
    const { bucket, region } = view.spec.objectStorage;
    return this.withS3(view, credentials, async (client) => {
      if (await client.bucketExists(bucket)) return { created: false };
      await ensureBucket(client, bucket, region);
      return { created: true };
    });
  }

  deleteTopics(view: ClusterView): Promise<string[]> {
    return this.withAdmin(view, async (admin) => {
      const topics = await deleteTopicsWithPrefix(admin, view.topicPrefix);
      // The services' consumer groups share the prefix (parley.<cluster>.); groups that
      // still have members (pods not yet gone) are left for Kafka to expire.
      await deleteGroupsWithPrefix(admin, view.topicPrefix);
      return topics;
    });
  }

  dropKeyspace(view: ClusterView, credentials: Credentials): Promise<boolean> {
    const keyspace = checkedKeyspace(view.spec.cassandra.keyspace);
    return this.withCassandra(view, credentials, async (client) => {
      const found = await client.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", [keyspace], { prepare: true });
      if (found.rowLength === 0) return false;
      await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
      return true;
    });
  }

  removeBucket(view: ClusterView, credentials: Credentials): Promise<boolean> {
    const { bucket } = view.spec.objectStorage;
    return this.withS3(view, credentials, async (client) => {
      if (!(await client.bucketExists(bucket))) return false;
      const objects = await objectNames(client, bucket);
      for (let i = 0; i < objects.length; i += 1000) await client.removeObjects(bucket, objects.slice(i, i + 1000));
      await client.removeBucket(bucket);
      return true;
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Group topics whose group is not in the group store (Cassandra's `groups` table). */
  private async orphanedGroupTopics(view: ClusterView, credentials: Credentials, topics: string[], prefix: string): Promise<string[]> {
    if (topics.length === 0) return [];
    const keyspace = checkedKeyspace(view.spec.cassandra.keyspace);
    return this.withCassandra(view, credentials, async (client) => {
      const orphaned: string[] = [];
      for (const topic of topics) {
        const groupId = topic.slice(prefix.length);
        const rows = await client.execute(`SELECT group_id FROM ${keyspace}.groups WHERE group_id = ? LIMIT 1`, [groupId], {
          prepare: true,
          consistency: cassandra.types.consistencies.localQuorum,
        });
        if (rows.rowLength === 0) orphaned.push(topic);
      }
      return orphaned;
    });
  }

  private async withAdmin<T>(view: ClusterView, work: (admin: Admin) => Promise<T>): Promise<T> {
    const kafka = new Kafka({
      clientId: "parley-operator",
      brokers: view.spec.kafka.bootstrapServers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 5_000,
      requestTimeout: 15_000,
      retry: { retries: 3 },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect();
    }
  }

  private async withCassandra<T>(view: ClusterView, credentials: Credentials, work: (client: cassandra.Client) => Promise<T>): Promise<T> {
    const { contactPoints, localDataCenter } = view.spec.cassandra;
    const { cassandraUsername: username, cassandraPassword: password } = credentials;
    const client = await connectCassandra({
      contactPoints,
      localDataCenter,
      ...(username !== undefined && password !== undefined ? { credentials: { username, password } } : {}),
    });
    try {
      return await work(client);
    } finally {
      await client.shutdown().catch(() => undefined);
    }
  }

  private async withS3<T>(view: ClusterView, credentials: Credentials, work: (client: S3Client) => Promise<T>): Promise<T> {
    const { endpoint, region } = view.spec.objectStorage;
    const staticKeys = view.spec.objectStorage.accessKey !== undefined;
    if (staticKeys && (credentials.s3AccessKey === undefined || credentials.s3SecretKey === undefined)) throw new Error("the S3 credentials are missing");
    // Without static keys the operator signs with its own pod's AWS identity (the chart's serviceAccount.annotations).
    const { client, agent } = createS3Client({
      endPoint: endpoint.replace(/\/$/, ""),
      region,
      ...(staticKeys ? { accessKey: credentials.s3AccessKey, secretKey: credentials.s3SecretKey } : {}),
    });
    try {
      return await work(client);
    } finally {
      agent.destroy();
    }
  }
}

function objectNames(client: S3Client, bucket: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const found: string[] = [];
    const listing = client.listObjectsV2(bucket, "", true);
    listing.on("data", (item: BucketItem) => {
      if (item.name !== undefined) found.push(item.name);
    });
    listing.on("error", reject);
    listing.on("end", () => {
      resolve(found);
    });
  });
}
