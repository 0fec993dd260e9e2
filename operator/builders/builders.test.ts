import { describe, expect, it } from "vitest";
import { defaultedSpec, messagingCluster } from "../testing/fixtures.js";
import { CONFIG_HASH_ANNOTATION, gatewayReplicas, selectorString, viewOf } from "./cluster.js";
import { replicationSetting, sharedSettings } from "./environment.js";
import { buildConfigMap, buildDeployment, buildGatewayPdb, buildService, buildServiceAccount, desiredObjects } from "./objects.js";

const view = viewOf(messagingCluster());
const owner = { apiVersion: "messaging.parley.io/v1alpha1", kind: "MessagingCluster", name: "demo", uid: "uid-demo", controller: true, blockOwnerDeletion: true };

function container(deployment: ReturnType<typeof buildDeployment>) {
  const found = deployment.spec?.template.spec?.containers[0];
  if (!found) throw new Error("no container");
  return found;
}

describe("viewOf", () => {
  it("names the cluster after the resource unless kafka.topicPrefix says otherwise", () => {
    expect(view).toMatchObject({ clusterName: "demo", topicPrefix: "parley.demo.", redisKeyPrefix: "parley:demo:" });
    const custom = viewOf(messagingCluster("demo", "team", defaultedSpec({ kafka: { ...defaultedSpec().kafka, topicPrefix: "parley.prod-eu." } })));
    expect(custom).toMatchObject({ clusterName: "prod-eu", topicPrefix: "parley.prod-eu.", redisKeyPrefix: "parley:prod-eu:" });
  });
});

describe("buildDeployment", () => {
  it("runs `parley serve <service>` from the spec's image with probes, labels and an owner", () => {
    const deployment = buildDeployment(view, "chat");
    expect(deployment.metadata).toMatchObject({
      name: "demo-chat",
      namespace: "team",
      labels: {
        "app.kubernetes.io/name": "parley",
        "app.kubernetes.io/instance": "demo",
        "app.kubernetes.io/component": "chat",
        "app.kubernetes.io/part-of": "parley",
        "app.kubernetes.io/managed-by": "parley-operator",
        "app.kubernetes.io/version": "0.1.0",
      },
      ownerReferences: [owner],
    });
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.spec?.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "parley", "app.kubernetes.io/instance": "demo", "app.kubernetes.io/component": "chat" });
    const main = container(deployment);
    expect(main.image).toBe("parley:0.1.0");
    expect(main.command).toEqual(["parley"]);
    expect(main.args).toEqual(["serve", "chat"]);
    expect(main.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(main.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(main.envFrom).toEqual([{ configMapRef: { name: "demo-config" } }]);
    expect(main.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
  });

  it("passes every secret by reference, never by value", () => {
    const spec = defaultedSpec({
      cassandra: { ...defaultedSpec().cassandra, username: { secretKeyRef: { name: "cass", key: "user" } }, password: { secretKeyRef: { name: "cass", key: "pass" } } },
      redis: { url: "redis://redis:6379", password: { secretKeyRef: { name: "redis", key: "password" } } },
    });
    const env = container(buildDeployment(viewOf(messagingCluster("demo", "team", spec)), "presence")).env ?? [];
    const secrets = Object.fromEntries(env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
    expect(secrets).toEqual({
      PARLEY_JWT_SECRET: { name: "creds", key: "jwt" },
      PARLEY_CASSANDRA_USERNAME: { name: "cass", key: "user" },
      PARLEY_CASSANDRA_PASSWORD: { name: "cass", key: "pass" },
      PARLEY_REDIS_PASSWORD: { name: "redis", key: "password" },
      PARLEY_S3_ACCESS_KEY: { name: "creds", key: "access" },
      PARLEY_S3_SECRET_KEY: { name: "creds", key: "secret" },
    });
    expect(env.every((e) => e.value === undefined || !/secret|password/i.test(e.name))).toBe(true);
  });

  it("gives the groups pods, and only them, the webhook signing secret by reference", () => {
    const view = viewOf(messagingCluster("demo", "team", defaultedSpec({ notifyWebhookSecret: { secretKeyRef: { name: "hooks", key: "hmac" } } })));
    const secretOf = (service: "groups" | "chat") =>
      (container(buildDeployment(view, service)).env ?? []).find((e) => e.name === "PARLEY_NOTIFY_WEBHOOK_SECRET");
    expect(secretOf("groups")).toEqual({ name: "PARLEY_NOTIFY_WEBHOOK_SECRET", valueFrom: { secretKeyRef: { name: "hooks", key: "hmac" } } });
    expect(secretOf("chat")).toBeUndefined();
  });

  it("gives gateways their pod name as gateway id and a grace period that covers the reconnect notice", () => {
    const spec = defaultedSpec({ gateway: { ...defaultedSpec().gateway, settings: { PARLEY_SHUTDOWN_GRACE_MS: "25000" } } });
    const deployment = buildDeployment(viewOf(messagingCluster("demo", "team", spec)), "gateway");
    const env = container(deployment).env ?? [];
    expect(env.find((e) => e.name === "PARLEY_GATEWAY_ID")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
    expect(env.find((e) => e.name === "PARLEY_SHUTDOWN_GRACE_MS")?.value).toBe("25000");
    expect(deployment.spec?.template.spec?.terminationGracePeriodSeconds).toBe(45);
    expect(deployment.spec?.strategy?.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
  });

  it("changes the pod template's config hash when a setting changes, and only then", () => {
    const hash = (spec = defaultedSpec()) => buildDeployment(viewOf(messagingCluster("demo", "team", spec)), "chat").spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    expect(hash()).toMatch(/^[0-9a-f]{16}$/);
    expect(hash()).toBe(hash());
    expect(hash(defaultedSpec({ logLevel: "debug" }))).not.toBe(hash());
    expect(hash(defaultedSpec({ chat: { replicas: 2, settings: { PARLEY_REQUEST_TIMEOUT_MS: "5000" } } }))).not.toBe(hash());
    expect(hash(defaultedSpec({ chat: { replicas: 7 } }))).toBe(hash());
  });

  it("keeps autoscaled gateways within min and max", () => {
    const autoscaling = { enabled: true, minReplicas: 3, maxReplicas: 5, targetConnectionsPerPod: 100, scaleDownStabilizationSeconds: 0 };
    expect(gatewayReplicas(defaultedSpec({ gateway: { ...defaultedSpec().gateway, replicas: 1, autoscaling } }))).toBe(3);
    expect(gatewayReplicas(defaultedSpec({ gateway: { ...defaultedSpec().gateway, replicas: 9, autoscaling } }))).toBe(5);
    expect(gatewayReplicas(defaultedSpec({ gateway: { ...defaultedSpec().gateway, replicas: 9 } }))).toBe(9);
  });

  it("turns resource quantities into strings", () => {
    const spec = defaultedSpec({ assets: { replicas: 1, resources: { requests: { cpu: 1, memory: "256Mi" } } } });
    expect(container(buildDeployment(viewOf(messagingCluster("demo", "team", spec)), "assets")).resources).toEqual({ requests: { cpu: "1", memory: "256Mi" } });
  });
});

describe("the other objects", () => {
  it("a ConfigMap with the back ends under their setting names", () => {
    const configMap = buildConfigMap(view);
    expect(configMap.metadata.name).toBe("demo-config");
    expect(configMap.data).toEqual({
      PARLEY_HOST: "0.0.0.0",
      PORT: "8080",
      PARLEY_LOG_LEVEL: "info",
      PARLEY_CLUSTER: "demo",
      PARLEY_KAFKA_BROKERS: "kafka:9092",
      PARLEY_KAFKA_PARTITIONS: "6",
      PARLEY_KAFKA_REPLICATION_FACTOR: "3",
      PARLEY_CASSANDRA_CONTACT_POINTS: "cassandra:9042",
      PARLEY_CASSANDRA_LOCAL_DC: "datacenter1",
      PARLEY_CASSANDRA_KEYSPACE: "parley",
      PARLEY_CASSANDRA_REPLICATION: "3",
      PARLEY_CASSANDRA_CONSISTENCY: "LOCAL_QUORUM",
      PARLEY_REDIS_URL: "redis://redis:6379",
      PARLEY_S3_ENDPOINT: "http://s3:9000",
      PARLEY_S3_REGION: "us-east-1",
      PARLEY_S3_BUCKET: "assets",
    });
  });

  it("the layout of the group topics from kafka.groupTopics.shared (0: a topic per group), or none for the services' default", () => {
    const withShared = (shared: number): Record<string, string> =>
      sharedSettings(viewOf(messagingCluster("demo", "team", defaultedSpec({ kafka: { ...defaultedSpec().kafka, groupTopics: { ...defaultedSpec().kafka.groupTopics, shared } } }))));
    expect(withShared(32)).toMatchObject({ PARLEY_GROUP_TOPICS: "32" });
    expect(withShared(0)).toMatchObject({ PARLEY_GROUP_TOPICS: "per-group" });
    expect(sharedSettings(view)).not.toHaveProperty("PARLEY_GROUP_TOPICS");
  });

  it("Redis Cluster nodes and NetworkTopologyStrategy replication in their settings' forms", () => {
    const spec = defaultedSpec({
      redis: { clusterNodes: ["r1:7000", "r2:7000"] },
      cassandra: { ...defaultedSpec().cassandra, replication: { class: "NetworkTopologyStrategy", dataCenters: { dc2: 3, dc1: 2 } } },
    });
    const v = viewOf(messagingCluster("demo", "team", spec));
    expect(replicationSetting(v)).toBe("dc1:2,dc2:3");
    expect(sharedSettings(v)).toMatchObject({ PARLEY_REDIS_CLUSTER_NODES: "r1:7000,r2:7000" });
    expect(sharedSettings(v)).not.toHaveProperty("PARLEY_REDIS_URL");
  });

  it("a gateway Service on port 80, an assets Service, headless ones for the rest", () => {
    expect(buildService(view, "gateway").spec).toEqual({
      type: "ClusterIP",
      selector: { "app.kubernetes.io/name": "parley", "app.kubernetes.io/instance": "demo", "app.kubernetes.io/component": "gateway" },
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    });
    expect(buildService(view, "assets").spec?.clusterIP).toBeUndefined();
    expect(buildService(view, "chat").spec).toMatchObject({ clusterIP: "None", ports: [{ port: 8080 }] });
  });

  it("a PodDisruptionBudget for gateways and a ServiceAccount without a token", () => {
    expect(buildGatewayPdb(view).spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "parley", "app.kubernetes.io/instance": "demo", "app.kubernetes.io/component": "gateway" } } });
    expect(buildServiceAccount(view)).toMatchObject({ metadata: { name: "demo-parley", ownerReferences: [owner] }, automountServiceAccountToken: false });
  });

  it("every desired object is owned by the cluster and in its namespace", () => {
    const objects = desiredObjects(view);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceAccount/demo-parley",
      "ConfigMap/demo-config",
      "Service/demo-gateway",
      "Service/demo-chat",
      "Service/demo-groups",
      "Service/demo-presence",
      "Service/demo-assets",
      "PodDisruptionBudget/demo-gateway",
      "Deployment/demo-gateway",
      "Deployment/demo-chat",
      "Deployment/demo-groups",
      "Deployment/demo-presence",
      "Deployment/demo-assets",
    ]);
    for (const object of objects) {
      expect(object.metadata.namespace).toBe("team");
      expect(object.metadata.ownerReferences).toEqual([owner]);
    }
    expect(selectorString(view, "gateway")).toBe("app.kubernetes.io/name=parley,app.kubernetes.io/instance=demo,app.kubernetes.io/component=gateway");
  });
});
