import type { ClusterView } from "../builders/cluster.js";
import { baseTopics } from "../external/adapter-external-state.js";
import type { ConnectionSource } from "../external/connection-source.js";
import type { CassandraOutcome, ExternalState, KafkaOutcome } from "../external/external-state.js";

/** Back ends in memory: topics, keyspaces (with a schema version), buckets; failures on demand. */
export class FakeExternalState implements ExternalState {
  readonly topics = new Map<string, { partitions: number; retentionMs?: number }>();
  readonly keyspaces = new Map<string, number>();
  readonly buckets = new Set<string>();
  readonly groups = new Set<string>();
  readonly calls: string[] = [];
  schemaVersion = 3;
  failing = new Map<"kafka" | "cassandra" | "storage", string>();

  ensureKafka(view: ClusterView): Promise<KafkaOutcome> {
    this.calls.push("ensureKafka");
    const failure = this.failing.get("kafka");
    if (failure !== undefined) return Promise.reject(new Error(failure));
    const { kafka } = view.spec;
    const created: string[] = [];
    const topics = baseTopics(view);
    for (const topic of topics) {
      if (!this.topics.has(topic)) {
        this.topics.set(topic, { partitions: kafka.partitions });
        created.push(topic);
      }
    }
    const prefix = `${view.topicPrefix}group.`;
    const groupTopics = [...this.topics.keys()].filter((t) => t.startsWith(prefix));
    const deleted = kafka.groupTopics.deleteWithGroup ? groupTopics.filter((t) => !this.groups.has(t.slice(prefix.length))) : [];
    for (const topic of deleted) this.topics.delete(topic);
    const updated: string[] = [];
    for (const topic of groupTopics.filter((t) => !deleted.includes(t))) {
      const state = this.topics.get(topic) ?? { partitions: 1 };
      const partitions = Math.max(state.partitions, kafka.groupTopics.partitions ?? kafka.partitions);
      if (partitions !== state.partitions || state.retentionMs !== kafka.groupTopics.retentionMs) updated.push(topic);
      this.topics.set(topic, { partitions, retentionMs: kafka.groupTopics.retentionMs });
    }
    return Promise.resolve({ created, baseTopics: topics, groupTopicsUpdated: updated, groupTopicsDeleted: deleted, groupTopics: groupTopics.length });
  }

  ensureCassandra(view: ClusterView): Promise<CassandraOutcome> {
    this.calls.push("ensureCassandra");
    const failure = this.failing.get("cassandra");
    if (failure !== undefined) return Promise.reject(new Error(failure));
    const keyspace = view.spec.cassandra.keyspace;
    const before = this.keyspaces.get(keyspace) ?? 0;
    this.keyspaces.set(keyspace, this.schemaVersion);
    const applied = Array.from({ length: this.schemaVersion - before }, (_, i) => before + i + 1);
    return Promise.resolve({ schemaVersion: this.schemaVersion, applied });
  }

  ensureBucket(view: ClusterView): Promise<{ created: boolean }> {
    this.calls.push("ensureBucket");
    const failure = this.failing.get("storage");
    if (failure !== undefined) return Promise.reject(new Error(failure));
    const created = !this.buckets.has(view.spec.objectStorage.bucket);
    this.buckets.add(view.spec.objectStorage.bucket);
    return Promise.resolve({ created });
  }

  deleteTopics(view: ClusterView): Promise<string[]> {
    this.calls.push("deleteTopics");
    const deleted = [...this.topics.keys()].filter((t) => t.startsWith(view.topicPrefix));
    for (const topic of deleted) this.topics.delete(topic);
    return Promise.resolve(deleted);
  }

  dropKeyspace(view: ClusterView): Promise<boolean> {
    this.calls.push("dropKeyspace");
    return Promise.resolve(this.keyspaces.delete(view.spec.cassandra.keyspace));
  }

  removeBucket(view: ClusterView): Promise<boolean> {
    this.calls.push("removeBucket");
    return Promise.resolve(this.buckets.delete(view.spec.objectStorage.bucket));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Connection counts set by the test. */
export class FakeConnectionSource implements ConnectionSource {
  perGateway = new Map<string, number>();
  failure: string | undefined;

  connectionsPerGateway(): Promise<Map<string, number>> {
    if (this.failure !== undefined) return Promise.reject(new Error(this.failure));
    return Promise.resolve(new Map(this.perGateway));
  }

  forget(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
