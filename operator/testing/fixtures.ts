import { API_VERSION, KIND, type MessagingCluster, type MessagingClusterSpec } from "../api/v1alpha1/messagingcluster.js";

/** A spec as the API server stores it after defaulting (what the operator reads). */
export function defaultedSpec(overrides: Partial<MessagingClusterSpec> = {}): MessagingClusterSpec {
  const service = { replicas: 2 };
  return {
    image: { repository: "parley", tag: "0.1.0", pullPolicy: "IfNotPresent" },
    logLevel: "info",
    jwtSecret: { secretKeyRef: { name: "creds", key: "jwt" } },
    gateway: {
      replicas: 2,
      serviceType: "ClusterIP",
      autoscaling: { enabled: false, minReplicas: 2, maxReplicas: 10, targetConnectionsPerPod: 10000, scaleDownStabilizationSeconds: 300 },
    },
    chat: { ...service },
    groups: { ...service },
    presence: { ...service },
    assets: { ...service },
    kafka: { bootstrapServers: ["kafka:9092"], partitions: 6, replicationFactor: 3, groupTopics: { retentionMs: 604800000, deleteWithGroup: false } },
    cassandra: {
      contactPoints: ["cassandra:9042"],
      localDataCenter: "datacenter1",
      keyspace: "parley",
      replication: { class: "SimpleStrategy", replicationFactor: 3 },
      consistency: "LOCAL_QUORUM",
    },
    redis: { url: "redis://redis:6379" },
    monitoring: { podMonitor: { enabled: false } },
    objectStorage: {
      endpoint: "http://s3:9000",
      region: "us-east-1",
      bucket: "assets",
      accessKey: { secretKeyRef: { name: "creds", key: "access" } },
      secretKey: { secretKeyRef: { name: "creds", key: "secret" } },
    },
    reclaimPolicy: "Retain",
    ...overrides,
  };
}

export function messagingCluster(name = "demo", namespace = "team", spec: MessagingClusterSpec = defaultedSpec()): MessagingCluster {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, uid: `uid-${name}`, generation: 1 }, spec };
}

export function secretData(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString("base64")]));
}
