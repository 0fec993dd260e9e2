import type { ClusterView } from "../builders/cluster.js";

/** Back-end credentials, read from the Secrets the spec names. */
export interface Credentials {
  cassandraUsername?: string;
  cassandraPassword?: string;
  redisPassword?: string;
  s3AccessKey?: string;
  s3SecretKey?: string;
}

export interface KafkaOutcome {
  /** Base topics (activity, notifications, requests.<service>) that this call created. */
  created: string[];
  /** Every base topic name, in order. */
  baseTopics: string[];
  /** Group topics grown or given the retention of kafka.groupTopics. */
  groupTopicsUpdated: string[];
  /** Group topics deleted because their group is gone (deleteWithGroup). */
  groupTopicsDeleted: string[];
  /** Group topics seen. */
  groupTopics: number;
}

export interface CassandraOutcome {
  /** Highest migration recorded in the keyspace. */
  schemaVersion: number;
  /** Migrations this call applied. */
  applied: number[];
}

/**
 * What a MessagingCluster needs outside Kubernetes. Every call is idempotent and safe to
 * run from several operator replicas at once (the adapters' setup code is).
 */
export interface ExternalState {
  /**
   * Creates the base topics parley.<cluster>.activity, .notifications and
   * .requests.<service> (partitions and replication factor from the spec) and brings
   * existing group topics in line with kafka.groupTopics.
   */
  ensureKafka(view: ClusterView, credentials: Credentials): Promise<KafkaOutcome>;
  /** Creates the keyspace and applies the schema migrations. */
  ensureCassandra(view: ClusterView, credentials: Credentials): Promise<CassandraOutcome>;
  /** Creates the bucket when missing; true when it did. */
  ensureBucket(view: ClusterView, credentials: Credentials): Promise<{ created: boolean }>;
  /** reclaimPolicy Delete: deletes every topic under the cluster's prefix, and its consumer groups that are empty. */
  deleteTopics(view: ClusterView): Promise<string[]>;
  /** reclaimPolicy Delete: drops the keyspace; false when it did not exist. */
  dropKeyspace(view: ClusterView, credentials: Credentials): Promise<boolean>;
  /** reclaimPolicy Delete: removes the bucket and its objects; false when it did not exist. */
  removeBucket(view: ClusterView, credentials: Credentials): Promise<boolean>;
  close(): Promise<void>;
}
