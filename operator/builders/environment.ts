import { createHash } from "node:crypto";
import { formatReplication, type Replication } from "../../services/events/replication.js";
import type { GroupTopicLayout } from "../../services/events/topics.js";
import type { SettingName } from "../../services/runtime/config.js";
import type { SecretKeyRef, Service } from "../api/v1alpha1/messagingcluster.js";
import { settingEnv } from "../api/v1alpha1/settings.js";
import type { EnvVar } from "../kube/types.js";
import { HTTP_PORT, type ClusterView } from "./cluster.js";

/**
 * The settings every container of a cluster gets from the ConfigMap: the back ends and
 * the cluster name, named as `parley serve` reads them (services/runtime/config.ts).
 */
export function sharedSettings(view: ClusterView): Record<string, string> {
  const { spec } = view;
  const entries: [SettingName, string | undefined][] = [
    ["host", "0.0.0.0"],
    ["port", String(HTTP_PORT)],
    ["logLevel", spec.logLevel],
    ["clusterName", view.clusterName],
    ["kafkaBrokers", spec.kafka.bootstrapServers.join(",")],
    ["kafkaPartitions", String(spec.kafka.partitions)],
    ["kafkaReplicationFactor", String(spec.kafka.replicationFactor)],
    ["groupTopics", groupTopicLayoutOf(spec.kafka.groupTopics.shared)?.toString()],
    ["cassandraContactPoints", spec.cassandra.contactPoints.join(",")],
    ["cassandraLocalDataCenter", spec.cassandra.localDataCenter],
    ["cassandraKeyspace", spec.cassandra.keyspace],
    ["cassandraReplication", replicationSetting(view)],
    ["cassandraConsistency", spec.cassandra.consistency],
    ["redisUrl", spec.redis.url],
    ["redisClusterNodes", spec.redis.clusterNodes?.join(",")],
    ["s3Endpoint", spec.objectStorage.endpoint.replace(/\/$/, "")],
    ["s3Region", spec.objectStorage.region],
    ["s3Bucket", spec.objectStorage.bucket],
  ];
  const data: Record<string, string> = {};
  for (const [name, value] of entries) if (value !== undefined) data[settingEnv(name)] = value;
  return data;
}

/** The group topic layout (PARLEY_GROUP_TOPICS) of kafka.groupTopics.shared: 0 is a topic per group; unset leaves the services' default. */
export function groupTopicLayoutOf(shared: number | undefined): GroupTopicLayout | undefined {
  if (shared === undefined) return undefined;
  return shared === 0 ? "per-group" : shared;
}

/** The keyspace replication of the spec, defaults applied. */
export function replicationOf(view: ClusterView): Replication {
  const { replication } = view.spec.cassandra;
  return replication.class === "SimpleStrategy"
    ? { class: "SimpleStrategy", replicationFactor: replication.replicationFactor ?? 3 }
    : { class: "NetworkTopologyStrategy", dataCenters: replication.dataCenters ?? {} };
}

/** PARLEY_CASSANDRA_REPLICATION, in the one text form `parley serve` parses. */
export function replicationSetting(view: ClusterView): string {
  return formatReplication(replicationOf(view));
}

function fromSecret(name: SettingName, ref: SecretKeyRef | undefined): EnvVar[] {
  if (ref === undefined) return [];
  return [{ name: settingEnv(name), valueFrom: { secretKeyRef: { name: ref.secretKeyRef.name, key: ref.secretKeyRef.key } } }];
}

/** The container's own variables: secrets by reference, the gateway id, then the service's extra settings. */
export function containerEnv(view: ClusterView, service: Service): EnvVar[] {
  const { spec } = view;
  const env: EnvVar[] = [
    ...fromSecret("jwtSecret", spec.jwtSecret),
    ...fromSecret("cassandraUsername", spec.cassandra.username),
    ...fromSecret("cassandraPassword", spec.cassandra.password),
    ...fromSecret("redisPassword", spec.redis.password),
    ...fromSecret("s3AccessKey", spec.objectStorage.accessKey),
    ...fromSecret("s3SecretKey", spec.objectStorage.secretKey),
    // The notifier runs in the groups pods; no other service signs webhooks.
    ...(service === "groups" ? fromSecret("notifyWebhookSecret", spec.notifyWebhookSecret) : []),
  ];
  // The pod's name is its gateway id in the connection registry.
  if (service === "gateway") env.push({ name: settingEnv("gatewayId"), valueFrom: { fieldRef: { fieldPath: "metadata.name" } } });
  const settings = spec[service].settings ?? {};
  for (const key of Object.keys(settings).sort()) env.push({ name: key, value: settings[key] ?? "" });
  return env;
}

/** A short digest of a value's canonical JSON. */
export function digest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}

/** JSON with object keys sorted, so equal values always give the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return value === undefined ? "null" : JSON.stringify(value);
}
