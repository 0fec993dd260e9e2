import { SERVICE_NAMES, type ServiceName } from "../../../services/events/service-names.js";
import { arr, bool, int, map, obj, quantity, str, type FromSchema } from "./openapi.js";
import { allServicesTemplate, serviceTemplate } from "./pod-template.js";
import { monitoring } from "./monitoring.js";
import { EXTRA_SETTINGS } from "./settings.js";

/**
 * The MessagingCluster API (messaging.parley.io/v1alpha1): the one place its schema is
 * written. `operator/tools/generate-crd.ts` turns it into the CRD YAML (crds/ and the
 * chart), `FromSchema` into the TypeScript types below, and docs/operator.md follows it.
 */
export const GROUP = "messaging.parley.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "MessagingCluster";
export const PLURAL = "messagingclusters";
export const SINGULAR = "messagingcluster";
export const CRD_NAME = `${PLURAL}.${GROUP}`;
export const FINALIZER = `${GROUP}/cleanup`;

/** The services a MessagingCluster runs, one Deployment each (`parley serve <service>`): the roles `parley serve` knows. */
export const SERVICES = SERVICE_NAMES;
export type Service = ServiceName;

const DNS_LABEL_40 = "^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$";
const HOST_PORT = "^[A-Za-z0-9.-]+:[0-9]{1,5}$";

function secretRef(what: string) {
  return obj(
    `${what}, read from a Secret in the MessagingCluster's namespace (never written into the resource).`,
    {
      secretKeyRef: obj(
        "The Secret and key that hold the value.",
        {
          name: str("Name of the Secret.", { minLength: 1, maxLength: 253, pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" }),
          key: str("Key in the Secret's data.", { minLength: 1, maxLength: 253, pattern: "^[-._a-zA-Z0-9]+$" }),
        },
        { required: ["name", "key"] },
      ),
    },
    { required: ["secretKeyRef"] },
  );
}

const resources = obj("Compute resources of each of the service's containers (requests and limits, as in a Pod).", {
  requests: map("Minimum resources, e.g. cpu: 250m, memory: 256Mi.", quantity("A quantity."), { maxProperties: 16 }),
  limits: map("Maximum resources, e.g. memory: 512Mi.", quantity("A quantity."), { maxProperties: 16 }),
});

const allowedSettings = [...EXTRA_SETTINGS.keys()];
const allowedList = `[${allowedSettings.map((name) => `'${name}'`).join(", ")}]`;

const settings = map(
  "Extra settings of this service, as environment variables of the settings table (docs/configuration.md), e.g. PARLEY_MAX_CONNECTIONS: \"50000\". " +
    "Settings the operator sets from other fields (back ends, secrets, ports, cluster name) are refused; values are checked against the table before pods roll.",
  str("The setting's value, as its environment variable takes it.", { maxLength: 2048 }),
  {
    maxProperties: 64,
    "x-kubernetes-validations": [
      {
        rule: `self.all(k, k in ${allowedList})`,
        // Names the first key refused (a join of all of them exceeds the API server's CEL cost budget, keys being unbounded).
        messageExpression: `'"' + self.filter(k, !(k in ${allowedList}))[0] + '" is not a setting a MessagingCluster may set; settings may name: ${allowedSettings.join(", ")}'`,
        message: `settings may only name these variables: ${allowedSettings.join(", ")}`,
      },
    ],
  },
);

function serviceSpec(service: Exclude<Service, "gateway">, what: string) {
  return obj(
    `The ${service} service (${what}): a Deployment running \`parley serve ${service}\`.`,
    {
      replicas: int(`Number of ${service} pods.`, { minimum: 0, maximum: 1000, default: 2 }),
      resources,
      settings,
      template: serviceTemplate,
    },
    { default: {} },
  );
}

const autoscaling = obj(
  "Scale gateways by live WebSocket connections (read from the connection registry in Redis). While enabled, the operator writes spec.gateway.replicas through the scale subresource.",
  {
    enabled: bool("Turns connection-based autoscaling on.", { default: false }),
    minReplicas: int("Fewest gateway pods the autoscaler keeps.", { minimum: 1, maximum: 1000, default: 2 }),
    maxReplicas: int("Most gateway pods the autoscaler runs.", { minimum: 1, maximum: 1000, default: 10 }),
    targetConnectionsPerPod: int("Connections one gateway pod should hold: desired pods = ceil(total connections / target), within min and max.", {
      minimum: 1,
      maximum: 1000000,
      default: 10000,
    }),
    scaleDownStabilizationSeconds: int(
      "Window over which scale-down takes the highest recommendation, so that a short dip does not remove pods (scale-up is immediate).",
      { minimum: 0, maximum: 3600, default: 300 },
    ),
  },
  {
    default: {},
    "x-kubernetes-validations": [
      { rule: "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas", message: "gateway.autoscaling.minReplicas must not exceed maxReplicas", fieldPath: ".minReplicas" },
    ],
  },
);

export const specSchema = obj(
  "Desired state of a Parley messaging cluster: its services, the back ends they use and what happens to their data when the resource is deleted.",
  {
    image: obj(
      "The parley container image every service runs.",
      {
        repository: str("Image repository.", { minLength: 1, maxLength: 512, default: "parley" }),
        // No default: the API server would write it into every object, and an operator upgrade would never move them.
        tag: str(
          "Image tag. Default: the operator's own version, so upgrading the operator upgrades the clusters that pin none. The operator applies the schema migrations it carries, so a pinned tag should match the operator's release.",
          { minLength: 1, maxLength: 128 },
        ),
        pullPolicy: str("When the kubelet pulls the image.", { enum: ["Always", "IfNotPresent", "Never"], default: "IfNotPresent" }),
        pullSecrets: arr(
          "Secrets (in the MessagingCluster's namespace) with credentials for a private registry.",
          obj("A docker-registry Secret.", { name: str("Name of the Secret.", { minLength: 1, maxLength: 253 }) }, { required: ["name"] }),
          { maxItems: 8 },
        ),
      },
      { default: {} },
    ),
    logLevel: str("Least severe log level of every service (a service's settings may override PARLEY_LOG_LEVEL).", {
      enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
      default: "info",
    }),
    jwtSecret: secretRef("HS256 secret (at least 32 characters) that signs client tokens (PARLEY_JWT_SECRET)"),
    notifyWebhookSecret: secretRef(
      "HMAC key (at least 32 characters) that signs each notification webhook POST (PARLEY_NOTIFY_WEBHOOK_SECRET), given to the groups pods; required when groups.settings sets PARLEY_NOTIFY_WEBHOOK_URL",
    ),
    template: allServicesTemplate(obj("Compute resources of the services that set no resources of their own.", resources.properties)),
    gateway: obj(
      "The WebSocket gateways: a Deployment running `parley serve gateway`, a Service on port 80 (WebSocket at /ws) and a PodDisruptionBudget.",
      {
        replicas: int("Number of gateway pods. The scale subresource and the autoscaler write this field.", {
          minimum: 0,
          maximum: 1000,
          default: 2,
        }),
        resources,
        settings,
        template: serviceTemplate,
        autoscaling,
        serviceType: str("Type of the gateways' Service.", { enum: ["ClusterIP", "NodePort", "LoadBalancer"], default: "ClusterIP" }),
      },
      { default: {} },
    ),
    chat: serviceSpec("chat", "1:1 messages, receipts, sync and history"),
    groups: serviceSpec("groups", "group membership and fan-out"),
    presence: serviceSpec("presence", "online state and user settings"),
    assets: serviceSpec("assets", "uploads and download links"),
    kafka: obj(
      "The Kafka cluster that carries the event bus.",
      {
        bootstrapServers: arr("Bootstrap servers, host:port (PARLEY_KAFKA_BROKERS).", str("A broker, host:port.", { pattern: HOST_PORT, maxLength: 261 }), {
          minItems: 1,
          maxItems: 32,
        }),
        topicPrefix: str(
          "Prefix of every topic of this cluster, `parley.<cluster>.`; <cluster> is also passed as PARLEY_CLUSTER and prefixes the cluster's Redis keys. Default: parley.<metadata.name>. Cannot be changed once set.",
          { pattern: "^parley\\.[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?\\.$", maxLength: 48, "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "kafka.topicPrefix cannot be changed" }] },
        ),
        partitions: int("Partitions of each topic the services create (PARLEY_KAFKA_PARTITIONS) and of the base topics the operator creates.", {
          minimum: 1,
          maximum: 1000,
          default: 6,
        }),
        replicationFactor: int("Replicas of each partition of the topics Parley creates (PARLEY_KAFKA_REPLICATION_FACTOR); at most the number of brokers.", {
          minimum: 1,
          maximum: 7,
          default: 3,
        }),
        groupTopics: obj(
          "Policy for the per-group topics (parley.<cluster>.group.<groupId>), which the groups service creates; the operator brings existing ones in line.",
          {
            partitions: int("Partitions each group topic is grown to (Kafka cannot shrink a topic). Default: kafka.partitions.", { minimum: 1, maximum: 1000 }),
            retentionMs: int("retention.ms of each group topic: how long a group's events stay on the bus (-1: forever).", {
              minimum: -1,
              format: "int64",
              default: 604800000,
            }),
            deleteWithGroup: bool("Delete the topic of a group that no longer exists in the group store.", { default: false }),
            shared: int(
              "Shared topics the group messages travel on (PARLEY_GROUP_TOPICS): parley.<cluster>.group-shard.<k>, each group on one by a hash of its id, its order kept; the policy above does not apply to them. 0: a topic per group, which costs the brokers heap, open files and memory maps per partition (docs/operations.md, Group topics). Changing it moves groups to other topics: a group's order holds from then on. Default: PARLEY_GROUP_TOPICS's (docs/configuration.md).",
              { minimum: 0, maximum: 1000 },
            ),
          },
          { default: {} },
        ),
      },
      {
        required: ["bootstrapServers"],
        "x-kubernetes-validations": [
          {
            rule: "!has(self.groupTopics) || !has(self.groupTopics.partitions) || self.groupTopics.partitions >= self.partitions",
            message: "kafka.groupTopics.partitions must be at least kafka.partitions: group topics are created with kafka.partitions and Kafka cannot shrink a topic",
            fieldPath: ".groupTopics.partitions",
          },
          { rule: "!has(oldSelf.topicPrefix) || has(self.topicPrefix)", message: "kafka.topicPrefix cannot be removed once set" },
        ],
      },
    ),
    cassandra: obj(
      "The Cassandra cluster that stores messages, inboxes and groups. The operator creates the keyspace and applies the schema migrations before the services start.",
      {
        contactPoints: arr("Contact points, host:port (PARLEY_CASSANDRA_CONTACT_POINTS).", str("A node, host:port.", { pattern: HOST_PORT, maxLength: 261 }), {
          minItems: 1,
          maxItems: 32,
        }),
        localDataCenter: str("The data centre the services send requests to (PARLEY_CASSANDRA_LOCAL_DC).", {
          minLength: 1,
          maxLength: 128,
          default: "datacenter1",
        }),
        keyspace: str("Keyspace of Parley's tables (PARLEY_CASSANDRA_KEYSPACE). Cannot be changed.", {
          pattern: "^[a-z][a-z0-9_]{0,47}$",
          maxLength: 48,
          default: "parley",
          "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "cassandra.keyspace cannot be changed" }],
        }),
        replication: obj(
          "Replication of the keyspace when it is created (PARLEY_CASSANDRA_REPLICATION).",
          {
            class: str("Replication strategy.", { enum: ["SimpleStrategy", "NetworkTopologyStrategy"] }),
            replicationFactor: int("Copies of each row (SimpleStrategy).", { minimum: 1, maximum: 99 }),
            dataCenters: map("Copies per data centre (NetworkTopologyStrategy), e.g. dc1: 3.", int("Copies in this data centre.", { minimum: 1, maximum: 99 }), {
              maxProperties: 16,
            }),
          },
          {
            required: ["class"],
            default: { class: "SimpleStrategy", replicationFactor: 3 },
            "x-kubernetes-validations": [
              {
                rule: "self.class == 'SimpleStrategy' ? has(self.replicationFactor) && !has(self.dataCenters) : has(self.dataCenters) && size(self.dataCenters) > 0 && !has(self.replicationFactor)",
                message: "SimpleStrategy takes replicationFactor; NetworkTopologyStrategy takes dataCenters",
              },
            ],
          },
        ),
        consistency: str("Consistency level of reads and writes (PARLEY_CASSANDRA_CONSISTENCY).", {
          enum: ["LOCAL_QUORUM", "QUORUM", "LOCAL_ONE", "ONE", "ALL", "EACH_QUORUM"],
          default: "LOCAL_QUORUM",
        }),
        username: secretRef("Cassandra user name (PARLEY_CASSANDRA_USERNAME)"),
        password: secretRef("Cassandra password (PARLEY_CASSANDRA_PASSWORD)"),
      },
      {
        required: ["contactPoints"],
        "x-kubernetes-validations": [{ rule: "has(self.username) == has(self.password)", message: "set both cassandra.username and cassandra.password, or neither" }],
      },
    ),
    redis: obj(
      "The Redis that holds the connection registry, presence and the delivery channel: one server (url) or a Redis Cluster (clusterNodes).",
      {
        url: str("A standalone server, redis://host:port[/db] or rediss:// (PARLEY_REDIS_URL); no credentials in it.", {
          pattern: "^rediss?://",
          maxLength: 512,
        }),
        clusterNodes: arr("Some nodes of a Redis Cluster, host:port (PARLEY_REDIS_CLUSTER_NODES).", str("A node, host:port.", { pattern: HOST_PORT, maxLength: 261 }), {
          minItems: 1,
          maxItems: 32,
        }),
        password: secretRef("Redis password (PARLEY_REDIS_PASSWORD)"),
      },
      {
        "x-kubernetes-validations": [
          { rule: "has(self.url) != has(self.clusterNodes)", message: "set exactly one of redis.url and redis.clusterNodes" },
          { rule: "!has(self.url) || !self.url.contains('@')", message: "redis.url may not carry credentials: put the password in redis.password", fieldPath: ".url" },
        ],
      },
    ),
    objectStorage: obj(
      "The S3-compatible object store that holds uploaded assets. Without accessKey and secretKey the pods sign with their own AWS identity, e.g. IAM roles for service accounts (spec.template.serviceAccount.annotations); the operator, which creates the bucket, with its own (the chart's serviceAccount.annotations).",
      {
        endpoint: str("Base URL, http(s)://host[:port] with no path (PARLEY_S3_ENDPOINT).", { pattern: "^https?://[^/@?#]+/?$", maxLength: 512 }),
        region: str("Region requests are signed for and the bucket is created in (PARLEY_S3_REGION).", { minLength: 1, maxLength: 64, default: "us-east-1" }),
        bucket: str("Bucket of the assets, created by the operator when missing (PARLEY_S3_BUCKET).", {
          pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
          maxLength: 63,
        }),
        accessKey: secretRef("S3 access key id (PARLEY_S3_ACCESS_KEY)"),
        secretKey: secretRef("S3 secret access key (PARLEY_S3_SECRET_KEY)"),
      },
      {
        required: ["endpoint", "bucket"],
        "x-kubernetes-validations": [{ rule: "has(self.accessKey) == has(self.secretKey)", message: "set both objectStorage.accessKey and objectStorage.secretKey, or neither (to use the pods' AWS identity)" }],
      },
    ),
    reclaimPolicy: str(
      "What deleting the MessagingCluster does to its data: Retain keeps the topics, keyspace and bucket; Delete removes the topics under kafka.topicPrefix, drops the keyspace and removes the bucket with its objects.",
      { enum: ["Retain", "Delete"], default: "Retain" },
    ),
    monitoring,
  },
  {
    required: ["jwtSecret", "kafka", "cassandra", "redis", "objectStorage"],
    "x-kubernetes-validations": [
      {
        rule: "!has(self.groups) || !has(self.groups.settings) || !('PARLEY_NOTIFY_WEBHOOK_URL' in self.groups.settings) || has(self.notifyWebhookSecret)",
        message: "groups.settings sets PARLEY_NOTIFY_WEBHOOK_URL: set notifyWebhookSecret too (notifications are signed)",
        fieldPath: ".notifyWebhookSecret",
      },
      {
        rule: ["gateway", "chat", "presence", "assets"].map((service) => `(!has(self.${service}.settings) || !('PARLEY_NOTIFY_WEBHOOK_URL' in self.${service}.settings))`).join(" && "),
        message: "PARLEY_NOTIFY_WEBHOOK_URL belongs in groups.settings: the notifier runs in the groups pods",
      },
    ],
  },
);

const conditionSchema = obj(
  "A condition (metav1.Condition).",
  {
    type: str("Kind of condition: Ready, Progressing, Degraded, KafkaReady, CassandraReady, StorageReady, PodMonitorReady.", { maxLength: 316, pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$" }),
    status: str("True, False or Unknown.", { enum: ["True", "False", "Unknown"] }),
    observedGeneration: int("The metadata.generation the condition was set for.", { minimum: 0, format: "int64" }),
    lastTransitionTime: str("When the condition last changed status.", { format: "date-time" }),
    reason: str("Machine-readable reason, CamelCase.", { minLength: 1, maxLength: 1024, pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$" }),
    message: str("Human-readable details.", { maxLength: 32768 }),
  },
  { required: ["type", "status", "lastTransitionTime", "reason", "message"] },
);

const readyCount = (service: Service) => int(`Ready ${service} pods.`, { minimum: 0 });

export const statusSchema = obj("Observed state of the messaging cluster, written by the operator.", {
  observedGeneration: int("The metadata.generation the operator last reconciled.", { minimum: 0, format: "int64" }),
  conditions: arr("Ready, Progressing, Degraded, one condition per back end (KafkaReady, CassandraReady, StorageReady) and PodMonitorReady while spec.monitoring.podMonitor is enabled.", conditionSchema, {
    maxItems: 16,
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
  }),
  clusterName: str("The cluster name (PARLEY_CLUSTER) the services run with, from kafka.topicPrefix."),
  schemaVersion: int("Highest Cassandra schema migration applied to the keyspace.", { minimum: 0 }),
  gateway: obj("The gateways, as the scale subresource and the autoscaler see them.", {
    replicas: int("Gateway pods that exist (the Deployment's status.replicas).", { minimum: 0 }),
    selector: str("Label selector of the gateway pods (for the scale subresource)."),
    connections: int("Live WebSocket connections across all gateways, from the connection registry.", { minimum: 0, format: "int64" }),
    desiredReplicas: int("The autoscaler's latest decision.", { minimum: 0 }),
    lastScaleTime: str("When the autoscaler last changed spec.gateway.replicas.", { format: "date-time" }),
  }),
  readyReplicas: obj("Ready pods per service.", {
    gateway: readyCount("gateway"),
    chat: readyCount("chat"),
    groups: readyCount("groups"),
    presence: readyCount("presence"),
    assets: readyCount("assets"),
  }),
});

export type MessagingClusterSpec = FromSchema<typeof specSchema>;
export type MessagingClusterStatus = FromSchema<typeof statusSchema>;
export type Condition = FromSchema<typeof conditionSchema>;
export type SecretKeyRef = FromSchema<ReturnType<typeof secretRef>>;
export type ServiceSpec = FromSchema<ReturnType<typeof serviceSpec>>;
export type GatewaySpec = MessagingClusterSpec["gateway"];

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface MessagingCluster {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: MessagingClusterSpec;
  status?: MessagingClusterStatus;
}

/** The CustomResourceDefinition, as an object (the generator writes it as YAML). */
export function messagingClusterCrd(): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: CRD_NAME,
      labels: { "app.kubernetes.io/name": "parley", "app.kubernetes.io/part-of": "parley" },
    },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: ["mc"], categories: ["parley"] },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: ".spec.gateway.replicas",
              statusReplicasPath: ".status.gateway.replicas",
              labelSelectorPath: ".status.gateway.selector",
            },
          },
          additionalPrinterColumns: [
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: "Whether every service is available and every back end is set up." },
            { name: "Gateways", type: "integer", jsonPath: ".status.readyReplicas.gateway", description: "Ready gateway pods." },
            { name: "Connections", type: "integer", jsonPath: ".status.gateway.connections", description: "Live WebSocket connections." },
            { name: "Reason", type: "string", priority: 1, jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: "Why the cluster is or is not ready." },
            { name: "Schema", type: "integer", priority: 1, jsonPath: ".status.schemaVersion", description: "Cassandra schema version." },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: "MessagingCluster runs one Parley messaging cluster: WebSocket gateways and the chat, groups, presence and assets services on Kafka, Cassandra, Redis and S3.",
              required: ["spec"],
              properties: {
                apiVersion: { type: "string", description: "APIVersion of this representation of the object: messaging.parley.io/v1alpha1." },
                kind: { type: "string", description: "Kind of the object: MessagingCluster." },
                // Declared so that the name rule below can point at it (fieldPath).
                metadata: { type: "object", properties: { name: { type: "string" } } },
                spec: specSchema,
                status: statusSchema,
              },
              "x-kubernetes-validations": [
                {
                  rule: "self.metadata.name.size() <= 40",
                  message: "a MessagingCluster's name has at most 40 characters: it names the cluster's topics, Redis keys and objects",
                  fieldPath: ".metadata.name",
                },
              ],
            },
          },
        },
      ],
    },
  };
}

export { DNS_LABEL_40 };
