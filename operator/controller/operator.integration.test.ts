import { randomBytes } from "node:crypto";
import { join } from "node:path";
import kafkajs from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectCassandra } from "../../services/adapters/cassandra/cassandra-options.js";
import { ensureTopic } from "../../services/adapters/kafka/topic-admin.js";
import { RedisConnectionRegistry } from "../../services/adapters/redis/redis-connection-registry.js";
import { createS3Client } from "../../services/adapters/s3/s3-blob-store.js";
import { createLogger } from "../../services/runtime/logger.js";
import { infraEndpoint } from "../../services/testing/infra.js";
import { CRD_NAME, FINALIZER, SERVICES, type MessagingCluster } from "../api/v1alpha1/messagingcluster.js";
import { CONFIG_HASH_ANNOTATION } from "../builders/cluster.js";
import { AdapterExternalState } from "../external/adapter-external-state.js";
import { RegistryConnectionSource } from "../external/connection-source.js";
import { HttpKubeApi } from "../kube/http-kube-api.js";
import { KubeError, RESOURCES, type KubeApi, type ResourceRef } from "../kube/kube-api.js";
import type { Deployment } from "../kube/types.js";
import { CRD_FILE, repositoryRoot } from "../tools/generate-crd.js";
import { FakeKubelet } from "../testing/fake-kubelet.js";
import { crdEstablished, kubeTestEnv, run, uniqueName, waitFor } from "../testing/kube-test-env.js";
import { Operator } from "./operator.js";

/**
 * The operator against a real control plane (hack/servers/kube.sh: kube-apiserver,
 * kube-controller-manager, etcd) and the real back ends (Kafka, Cassandra, Redis, S3Proxy
 * of hack/infra.sh). A FakeKubelet per namespace binds pods and reports them ready,
 * since the test control plane has no kubelet.
 */
const logger = createLogger(process.env.PARLEY_TEST_LOG_LEVEL ?? "silent", { component: "operator" });
const { Kafka, logLevel } = kafkajs;

let env: ReturnType<typeof kubeTestEnv>;
let operator: Operator;
const namespaces: string[] = [];
const kubelets: FakeKubelet[] = [];
const operatorNamespace = uniqueName("parley-op");
/** This run's clusters carry this label and its operators watch only them (other runs may share the control plane). */
const runLabel = operatorNamespace;

function kubectl(args: string[], input?: string) {
  return run(env.kubectl, args, env.kubeconfig, input);
}

function startOperator(options: { kube?: KubeApi; identity?: string } = {}): Operator {
  return new Operator({
    kubeConfig: env.config,
    external: new AdapterExternalState(),
    connections: new RegistryConnectionSource(),
    logger,
    selector: `parley.io/test-run=${runLabel}`,
    autoscalerIntervalMs: 250,
    baseBackoffMs: 200,
    maxBackoffMs: 3_000,
    leaderElection: { namespace: operatorNamespace, name: "parley-operator", identity: options.identity ?? "test", retryPeriodMs: 200 },
    ...(options.kube ? { kube: options.kube } : {}),
  });
}

async function namespaceWithKubelet(): Promise<string> {
  const namespace = uniqueName("parley-t");
  const created = await kubectl(["create", "namespace", namespace]);
  expect(created.stderr).toBe("");
  namespaces.push(namespace);
  const kubelet = new FakeKubelet(env.config, env.kube, namespace);
  await kubelet.start();
  kubelets.push(kubelet);
  return namespace;
}

interface ClusterOptions {
  reclaimPolicy?: "Retain" | "Delete";
  gateway?: Record<string, unknown>;
  chat?: Record<string, unknown>;
}

/** A Secret and a MessagingCluster on the test back ends, as `kubectl apply` input (JSON). */
function manifest(name: string, options: ClusterOptions = {}): string {
  const id = name.replace(/-/g, "_");
  const ref = (key: string) => ({ secretKeyRef: { name: `${name}-credentials`, key } });
  return JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${name}-credentials` },
        stringData: {
          jwt: randomBytes(24).toString("hex"),
          s3Access: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
          s3Secret: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
        },
      },
      {
        apiVersion: "messaging.parley.io/v1alpha1",
        kind: "MessagingCluster",
        metadata: { name, labels: { "parley.io/test-run": runLabel } },
        spec: {
          jwtSecret: ref("jwt"),
          gateway: { replicas: 1, ...options.gateway },
          chat: { replicas: 1, ...options.chat },
          groups: { replicas: 1 },
          presence: { replicas: 1 },
          assets: { replicas: 1 },
          kafka: { bootstrapServers: infraEndpoint("PARLEY_TEST_KAFKA_BROKERS").split(","), partitions: 2, replicationFactor: 1 },
          cassandra: {
            contactPoints: infraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS").split(","),
            localDataCenter: infraEndpoint("PARLEY_TEST_CASSANDRA_DC"),
            keyspace: `t_op_${id}`,
            replication: { class: "SimpleStrategy", replicationFactor: 1 },
          },
          redis: { url: infraEndpoint("PARLEY_TEST_REDIS_URL") },
          objectStorage: {
            endpoint: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"),
            region: infraEndpoint("PARLEY_TEST_S3_REGION"),
            bucket: `t-op-${name}`,
            accessKey: ref("s3Access"),
            secretKey: ref("s3Secret"),
          },
          reclaimPolicy: options.reclaimPolicy ?? "Delete",
        },
      },
    ],
  });
}

function clusterRef(namespace: string, name: string): ResourceRef {
  return { ...RESOURCES.messagingClusters, namespace, name };
}

function condition(cluster: MessagingCluster | undefined, type: string) {
  return cluster?.status?.conditions?.find((c) => c.type === type);
}

function isReady(cluster: MessagingCluster | undefined): boolean {
  return condition(cluster, "Ready")?.status === "True" && cluster?.status?.observedGeneration === cluster?.metadata.generation;
}

async function apply(namespace: string, name: string, options: ClusterOptions = {}): Promise<void> {
  const result = await kubectl(["apply", "-n", namespace, "-f", "-"], manifest(name, options));
  expect(result.stderr).toBe("");
}

function waitForCluster(namespace: string, name: string, predicate: (c: MessagingCluster | undefined) => boolean, what: string, timeoutMs = 90_000) {
  return waitFor<MessagingCluster>(env, clusterRef(namespace, name), predicate, what, timeoutMs);
}

async function kafkaTopics(): Promise<string[]> {
  const admin = new Kafka({ clientId: "operator-test", brokers: infraEndpoint("PARLEY_TEST_KAFKA_BROKERS").split(","), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

async function keyspaceExists(keyspace: string): Promise<boolean> {
  const client = await connectCassandra({
    contactPoints: infraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS").split(","),
    localDataCenter: infraEndpoint("PARLEY_TEST_CASSANDRA_DC"),
  });
  try {
    const rows = await client.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", [keyspace], { prepare: true });
    return rows.rowLength > 0;
  } finally {
    await client.shutdown();
  }
}

function s3() {
  return createS3Client({
    endPoint: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"),
    region: infraEndpoint("PARLEY_TEST_S3_REGION"),
    accessKey: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
    secretKey: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
  });
}

async function bucketExists(bucket: string): Promise<boolean> {
  const { client, agent } = s3();
  try {
    return await client.bucketExists(bucket);
  } finally {
    agent.destroy();
  }
}

/** Runs `count` reconciles of key one after another through the operator's queue. */
async function reconcileTimes(key: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const off = operator.onReconciled((done, error) => {
        if (done !== key) return;
        off();
        if (error === undefined) resolve();
        else reject(error instanceof Error ? error : new Error("reconcile failed"));
      });
      operator.queue.add(key);
    });
  }
}

async function childVersions(namespace: string, name: string): Promise<Record<string, string | undefined>> {
  const refs: [string, ResourceRef][] = [
    ["cluster", clusterRef(namespace, name)],
    ["configmap", { ...RESOURCES.configMaps, namespace, name: `${name}-config` }],
    ["serviceaccount", { ...RESOURCES.serviceAccounts, namespace, name: `${name}-parley` }],
    ["pdb", { ...RESOURCES.podDisruptionBudgets, namespace, name: `${name}-gateway` }],
    ...SERVICES.flatMap((s): [string, ResourceRef][] => [
      [`deployment/${s}`, { ...RESOURCES.deployments, namespace, name: `${name}-${s}` }],
      [`service/${s}`, { ...RESOURCES.services, namespace, name: `${name}-${s}` }],
    ]),
  ];
  const versions: Record<string, string | undefined> = {};
  for (const [key, ref] of refs) versions[key] = (await env.kube.get<{ metadata: { resourceVersion?: string } }>(ref))?.metadata.resourceVersion;
  return versions;
}

beforeAll(async () => {
  env = kubeTestEnv();
  const crd = await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repositoryRoot(), CRD_FILE)]);
  expect(crd.code, crd.stderr).toBe(0);
  await crdEstablished(env, CRD_NAME);
  expect((await kubectl(["create", "namespace", operatorNamespace])).code).toBe(0);
  namespaces.push(operatorNamespace);
  operator = startOperator();
  await operator.start();
}, 120_000);

afterAll(async () => {
  // Clusters deleted while the operator still runs, so reclaimPolicy Delete removes their
  // topics, keyspace and bucket: each run used to leave three keyspaces in the shared
  // Cassandra, and a node with hundreds of leftover tables took minutes to restart.
  await Promise.all(
    namespaces.map(async (namespace) => {
      const list = await env.kube.list<MessagingCluster>({ ...RESOURCES.messagingClusters, namespace });
      await Promise.all(
        list.items.map(async ({ metadata: { name } }) => {
          await kubectl(["delete", "mc", "-n", namespace, name, "--wait=false"]);
          await waitForCluster(namespace, name, (c) => c === undefined, `${name} deleted`, 60_000).catch((error: unknown) => {
            process.stdout.write(`operator tests: ${namespace}/${name} not deleted by the operator, its back ends are left behind: ${String(error)}\n`);
          });
        }),
      );
    }),
  );
  await operator.stop();
  await Promise.all(kubelets.map((k) => k.stop()));
  // Clusters the operator could not delete: drop their finalizers so their namespaces can go.
  for (const namespace of namespaces) {
    const list = await env.kube.list<MessagingCluster>({ ...RESOURCES.messagingClusters, namespace });
    for (const cluster of list.items) {
      await env.kube.mergePatch(clusterRef(namespace, cluster.metadata.name), { metadata: { finalizers: null } }).catch(() => undefined);
    }
    await kubectl(["delete", "namespace", namespace, "--wait=false"]);
  }
  env.kube.close();
}, 180_000);

describe("the operator on a real control plane", () => {
  const name = uniqueName("main");
  let namespace = "";

  it("creates every child object with the right spec and owner, sets up the back ends and becomes Ready", async () => {
    namespace = await namespaceWithKubelet();
    const started = Date.now();
    await apply(namespace, name);
    const ready = await waitForCluster(namespace, name, isReady, `${name} Ready`);
    const elapsed = Date.now() - started;
    process.stdout.write(`operator: kubectl apply -> Ready in ${elapsed} ms\n`);
    expect(ready).toBeDefined();
    const cluster = ready as MessagingCluster;
    expect(cluster.metadata.finalizers).toContain(FINALIZER);
    for (const type of ["KafkaReady", "CassandraReady", "StorageReady"]) expect(condition(cluster, type)?.status).toBe("True");
    expect(condition(cluster, "Progressing")).toMatchObject({ status: "False", reason: "RolloutComplete" });
    expect(condition(cluster, "Degraded")).toMatchObject({ status: "False" });
    expect(cluster.status?.schemaVersion).toBeGreaterThanOrEqual(1);
    expect(cluster.status?.readyReplicas).toEqual({ gateway: 1, chat: 1, groups: 1, presence: 1, assets: 1 });
    expect(cluster.status?.gateway).toMatchObject({ replicas: 1, selector: `app.kubernetes.io/name=parley,app.kubernetes.io/instance=${name},app.kubernetes.io/component=gateway` });

    const owner = { apiVersion: "messaging.parley.io/v1alpha1", kind: "MessagingCluster", name, uid: cluster.metadata.uid, controller: true, blockOwnerDeletion: true };
    for (const service of SERVICES) {
      const deployment = (await env.kube.get<Deployment>({ ...RESOURCES.deployments, namespace, name: `${name}-${service}` })) as Deployment;
      expect(deployment.metadata?.ownerReferences).toEqual([owner]);
      expect(deployment.metadata?.labels).toMatchObject({ "app.kubernetes.io/managed-by": "parley-operator", "app.kubernetes.io/component": service });
      const container = deployment.spec?.template.spec?.containers[0];
      expect(container?.image).toBe("parley:0.1.0");
      expect(container?.args).toEqual(["serve", service]);
      expect(container?.env?.find((e) => e.name === "PARLEY_JWT_SECRET")?.valueFrom?.secretKeyRef).toEqual({ name: `${name}-credentials`, key: "jwt" });
      expect(deployment.status?.readyReplicas).toBe(1);
      const svc = await env.kube.get<{ metadata: { ownerReferences: unknown[] }; spec: { ports: { port: number }[] } }>({ ...RESOURCES.services, namespace, name: `${name}-${service}` });
      expect(svc?.metadata.ownerReferences).toEqual([owner]);
    }
    const configMap = await env.kube.get<{ data: Record<string, string> }>({ ...RESOURCES.configMaps, namespace, name: `${name}-config` });
    expect(configMap?.data).toMatchObject({ PARLEY_CLUSTER: name, PARLEY_KAFKA_BROKERS: infraEndpoint("PARLEY_TEST_KAFKA_BROKERS") });
    expect(await env.kube.get({ ...RESOURCES.podDisruptionBudgets, namespace, name: `${name}-gateway` })).toBeDefined();
    expect(await env.kube.get({ ...RESOURCES.serviceAccounts, namespace, name: `${name}-parley` })).toBeDefined();

    const topics = await kafkaTopics();
    for (const suffix of ["activity", "notifications", "requests.chat", "requests.groups", "requests.presence", "group-shard.0", "group-shard.15"]) {
      expect(topics).toContain(`parley.${name}.${suffix}`);
    }
    expect(await keyspaceExists(`t_op_${name.replace(/-/g, "_")}`)).toBe(true);
    expect(await bucketExists(`t-op-${name}`)).toBe(true);

    const events = await kubectl(["get", "events", "-n", namespace, "--field-selector", `involvedObject.name=${name}`, "-o", "jsonpath={.items[*].reason}"]);
    expect(events.stdout.split(" ")).toEqual(expect.arrayContaining(["TopicsCreated", "MigrationsApplied", "BucketCreated", "Created"]));
    const table = await kubectl(["get", "mc", "-n", namespace, name]);
    expect(table.stdout).toMatch(/NAME\s+READY\s+GATEWAYS\s+CONNECTIONS\s+AGE/);
    expect(table.stdout).toMatch(new RegExp(`${name}\\s+True\\s+1\\s+0`));
  }, 120_000);

  it("changes nothing when it reconciles again, and reports its throughput", async () => {
    const before = await childVersions(namespace, name);
    await reconcileTimes(`${namespace}/${name}`, 2);
    expect(await childVersions(namespace, name)).toEqual(before);
    const count = 40;
    const started = process.hrtime.bigint();
    await reconcileTimes(`${namespace}/${name}`, count);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(`operator: ${count} no-op reconciles of a Ready cluster in ${seconds.toFixed(2)} s = ${(count / seconds).toFixed(1)} reconciles/s\n`);
    expect(await childVersions(namespace, name)).toEqual(before);
    const metrics = await operator.metrics.registry.getSingleMetricAsString("parley_operator_reconciles_total");
    expect(metrics).toMatch(/parley_operator_reconciles_total\{result="success"\} \d+/);
  }, 120_000);

  it("rolls the pod template when a setting changes, and scales gateways through the scale subresource", async () => {
    const ref = { ...RESOURCES.deployments, namespace, name: `${name}-chat` };
    const hashOf = (d: Deployment | undefined) => d?.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    const before = hashOf(await env.kube.get<Deployment>(ref));
    const patched = await kubectl(["patch", "mc", "-n", namespace, name, "--type=merge", "-p", '{"spec":{"chat":{"settings":{"PARLEY_REQUEST_TIMEOUT_MS":"5000"}}}}']);
    expect(patched.stderr).toBe("");
    const rolled = await waitFor<Deployment>(env, ref, (d) => hashOf(d) !== undefined && hashOf(d) !== before, "a new chat pod template");
    expect(rolled?.spec?.template.spec?.containers[0]?.env).toContainEqual({ name: "PARLEY_REQUEST_TIMEOUT_MS", value: "5000" });
    await waitForCluster(namespace, name, isReady, "Ready after the rollout");

    const scaled = await kubectl(["scale", "mc", "-n", namespace, name, "--replicas=3"]);
    expect(scaled.stderr).toBe("");
    await waitFor<Deployment>(env, { ...RESOURCES.deployments, namespace, name: `${name}-gateway` }, (d) => d?.spec?.replicas === 3, "3 gateway replicas");
    const cluster = await waitForCluster(namespace, name, (c) => isReady(c) && c?.status?.gateway?.replicas === 3, "3 ready gateways");
    expect(cluster?.status?.readyReplicas?.gateway).toBe(3);
  }, 120_000);

  it("refuses a bad spec in the API server with the CEL message", async () => {
    const bad = JSON.parse(manifest("bad")) as { items: { spec?: Record<string, unknown> }[] };
    const spec = bad.items[1]?.spec ?? {};
    spec.gateway = { autoscaling: { minReplicas: 5, maxReplicas: 3 } };
    spec.redis = { url: "redis://127.0.0.1:6379", clusterNodes: ["127.0.0.1:7000"] };
    spec.groups = { settings: { PARLEY_NOTIFY_WEBHOOK_URL: "https://push.example/notify" } };
    spec.chat = { settings: { PARLEY_NOTIFY_WEBHOOK_URL: "https://push.example/notify" } };
    const refused = await kubectl(["apply", "-n", namespace, "-f", "-"], JSON.stringify(bad));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("gateway.autoscaling.minReplicas must not exceed maxReplicas");
    expect(refused.stderr).toContain("set exactly one of redis.url and redis.clusterNodes");
    expect(refused.stderr).toContain("set notifyWebhookSecret too");
    expect(refused.stderr).toContain("PARLEY_NOTIFY_WEBHOOK_URL belongs in groups.settings");
    const immutable = await kubectl(["patch", "mc", "-n", namespace, name, "--type=merge", "-p", '{"spec":{"cassandra":{"keyspace":"other"}}}']);
    expect(immutable.stderr).toContain("cassandra.keyspace cannot be changed");
    const negative = await kubectl(["patch", "mc", "-n", namespace, name, "--type=merge", "-p", '{"spec":{"chat":{"replicas":-1}}}']);
    expect(negative.stderr).toContain("spec.chat.replicas");
  }, 60_000);

  it("reports a setting value the settings table refuses, without rolling anything", async () => {
    const ref = { ...RESOURCES.deployments, namespace, name: `${name}-gateway` };
    const before = (await env.kube.get<Deployment>(ref))?.metadata?.resourceVersion;
    await kubectl(["patch", "mc", "-n", namespace, name, "--type=merge", "-p", '{"spec":{"gateway":{"settings":{"PARLEY_MAX_CONNECTIONS":"0"}}}}']);
    const refused = await waitForCluster(namespace, name, (c) => condition(c, "Ready")?.reason === "InvalidSpec", "InvalidSpec");
    expect(condition(refused, "Ready")?.message).toContain("spec.gateway.settings.PARLEY_MAX_CONNECTIONS");
    expect((await env.kube.get<Deployment>(ref))?.metadata?.resourceVersion).toBe(before);
    await kubectl(["patch", "mc", "-n", namespace, name, "--type=json", "-p", '[{"op":"remove","path":"/spec/gateway/settings"}]']);
    await waitForCluster(namespace, name, isReady, "Ready again");
  }, 120_000);

  it("scales gateways by the connections in the real Redis registry", async () => {
    const scaledName = uniqueName("auto");
    const ns = await namespaceWithKubelet();
    await apply(ns, scaledName, {
      gateway: { replicas: 1, autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 5, targetConnectionsPerPod: 10, scaleDownStabilizationSeconds: 0 } },
    });
    await waitForCluster(ns, scaledName, isReady, "autoscaled cluster Ready");
    const registry = new RedisConnectionRegistry({ url: infraEndpoint("PARLEY_TEST_REDIS_URL") }, { keyPrefix: `parley:${scaledName}:` });
    const routes = Array.from({ length: 35 }, (_, i) => ({
      userId: `user${i}`,
      deviceId: `device${i}`,
      connectionId: `c${i}`,
      gatewayId: `${scaledName}-gateway-${i % 2}`,
    }));
    try {
      await Promise.all(routes.map((route) => registry.register(route, 120_000)));
      const up = await waitForCluster(ns, scaledName, (c) => c?.spec.gateway.replicas === 4 && c.status?.gateway?.connections === 35 && isReady(c), "4 gateways for 35 connections");
      expect(up?.status?.gateway?.desiredReplicas).toBe(4);
      const deployment = await env.kube.get<Deployment>({ ...RESOURCES.deployments, namespace: ns, name: `${scaledName}-gateway` });
      expect(deployment?.spec?.replicas).toBe(4);
      const events = await kubectl(["get", "events", "-n", ns, "--field-selector", `involvedObject.name=${scaledName},reason=ScaledGateways`, "-o", "jsonpath={.items[*].message}"]);
      expect(events.stdout).toContain("gateways 1 -> 4: 35 connections, target 10 per pod (ScaleUp)");
      await Promise.all(routes.slice(5).map((route) => registry.unregister(route)));
      await waitForCluster(ns, scaledName, (c) => c?.spec.gateway.replicas === 1 && c.status?.gateway?.connections === 5, "back to 1 gateway for 5 connections");
    } finally {
      await Promise.all(routes.map((route) => registry.unregister(route)));
      await registry.close();
    }
  }, 120_000);

  it("converges after the operator dies mid-way and a new one starts", async () => {
    const crashName = uniqueName("crash");
    const ns = await namespaceWithKubelet();
    await operator.stop();
    // An operator whose connection to the API server breaks after three applies.
    const real = new HttpKubeApi(env.config);
    let applies = 0;
    const dying: KubeApi = {
      get: (ref) => real.get(ref),
      list: (ref, options) => real.list(ref, options),
      apply: async (ref, body, options) => {
        applies += 1;
        if (applies > 3) throw new Error("connection reset by peer");
        return real.apply(ref, body, options);
      },
      mergePatch: (ref, patch) => real.mergePatch(ref, patch),
      jsonPatch: (ref, operations) => real.jsonPatch(ref, operations),
      create: (ref, body) => real.create(ref, body),
      replace: (ref, body) => real.replace(ref, body),
      delete: (ref, options) => real.delete(ref, options),
    };
    const first = startOperator({ kube: dying, identity: "first" });
    await first.start();
    await apply(ns, crashName);
    await new Promise<void>((resolve) => {
      first.onReconciled((key, error) => {
        if (key === `${ns}/${crashName}` && error !== undefined) resolve();
      });
    });
    await first.stop();
    real.close();
    expect(await env.kube.get({ ...RESOURCES.deployments, namespace: ns, name: `${crashName}-gateway` })).toBeUndefined();
    // Meanwhile the spec changes.
    await kubectl(["patch", "mc", "-n", ns, crashName, "--type=merge", "-p", '{"spec":{"presence":{"replicas":2}}}']);

    operator = startOperator({ identity: "second" });
    await operator.start();
    const converged = await waitForCluster(ns, crashName, isReady, "Ready after the restart");
    expect(converged?.status?.readyReplicas).toMatchObject({ presence: 2, gateway: 1 });
    for (const service of SERVICES) expect(await env.kube.get({ ...RESOURCES.deployments, namespace: ns, name: `${crashName}-${service}` })).toBeDefined();
  }, 120_000);

  it("with reclaimPolicy Delete removes the topics, keyspace and bucket; with Retain keeps them", async () => {
    const ns = await namespaceWithKubelet();
    const doomed = uniqueName("del");
    const kept = uniqueName("keep");
    await apply(ns, doomed, { reclaimPolicy: "Delete" });
    await apply(ns, kept, { reclaimPolicy: "Retain" });
    for (const n of [doomed, kept]) await waitForCluster(ns, n, (c) => c?.status?.schemaVersion !== undefined && condition(c, "StorageReady")?.status === "True", `${n} set up`);

    // Data the services would have written: a group topic and an asset.
    const admin = new Kafka({ clientId: "operator-test", brokers: infraEndpoint("PARLEY_TEST_KAFKA_BROKERS").split(","), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await ensureTopic(admin, `parley.${doomed}.group.g1`, 1, 1);
    await admin.disconnect();
    const { client, agent } = s3();
    await client.putObject(`t-op-${doomed}`, "sha256/abc.blob", Buffer.from("asset"));
    agent.destroy();

    for (const n of [doomed, kept]) expect((await kubectl(["delete", "mc", "-n", ns, n, "--wait=false"])).code).toBe(0);
    for (const n of [doomed, kept]) await waitForCluster(ns, n, (c) => c === undefined, `${n} deleted`);

    const topics = await kafkaTopics();
    expect(topics.filter((t) => t.startsWith(`parley.${doomed}.`))).toEqual([]);
    expect(await keyspaceExists(`t_op_${doomed.replace(/-/g, "_")}`)).toBe(false);
    expect(await bucketExists(`t-op-${doomed}`)).toBe(false);

    expect(topics).toContain(`parley.${kept}.activity`);
    expect(await keyspaceExists(`t_op_${kept.replace(/-/g, "_")}`)).toBe(true);
    expect(await bucketExists(`t-op-${kept}`)).toBe(true);
    // The garbage collector removes the children through their owner references.
    await waitFor(env, { ...RESOURCES.deployments, namespace: ns, name: `${doomed}-gateway` }, (d) => d === undefined, "children garbage-collected");
    // Clean up what Retain kept.
    const external = new AdapterExternalState();
    const keptCluster = await env.kube.get<MessagingCluster>(clusterRef(ns, kept));
    expect(keptCluster).toBeUndefined();
    const spec = (JSON.parse(manifest(kept)) as { items: { spec: MessagingCluster["spec"] }[] }).items[1]?.spec;
    if (spec === undefined) throw new Error("no spec");
    // Cleaning the back ends up reads no image.
    const view = { name: kept, namespace: ns, uid: "", generation: 1, clusterName: kept, topicPrefix: `parley.${kept}.`, redisKeyPrefix: "", spec: { ...spec, image: { ...spec.image, tag: "unused" } } };
    const credentials = { s3AccessKey: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"), s3SecretKey: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY") };
    await external.deleteTopics(view);
    await external.dropKeyspace(view, credentials);
    await external.removeBucket(view, credentials);
  }, 120_000);

  it("needs no permission beyond operator/rbac.ts: a reconcile as the chart's ServiceAccount", async () => {
    const release = uniqueName("rbac");
    const lint = await run(env.helm, ["lint", join(repositoryRoot(), "charts/parley")], env.kubeconfig);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    const installed = await run(
      env.helm,
      ["install", release, join(repositoryRoot(), "charts/parley"), "--namespace", operatorNamespace, "--set", "replicaCount=1", "--set", "crds.enabled=false", "--wait=false"],
      env.kubeconfig,
    );
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain("kubectl apply -n chat -f operator/examples/messagingcluster.yaml");
    const serviceAccount = `system:serviceaccount:${operatorNamespace}:${release}-parley-operator`;
    const can = await kubectl(["auth", "can-i", "patch", "messagingclusters.messaging.parley.io/scale", "--as", serviceAccount, "-A"]);
    expect(can.stdout.trim()).toBe("yes");
    const cannot = await kubectl(["auth", "can-i", "delete", "secrets", "--as", serviceAccount, "-A"]);
    expect(cannot.stdout.trim()).toBe("no");

    // The operator itself, authenticated as that ServiceAccount.
    await operator.stop();
    const { KubeConfig } = await import("@kubernetes/client-node");
    const asOperator = new KubeConfig();
    asOperator.loadFromFile(env.kubeconfig);
    const user = asOperator.getCurrentUser();
    if (!user) throw new Error("no user in the kubeconfig");
    asOperator.users = asOperator.users.map((u) => (u.name === user.name ? { ...u, impersonateUser: serviceAccount } : u));
    const impersonating = new Operator({
      kubeConfig: asOperator,
      external: new AdapterExternalState(),
      connections: new RegistryConnectionSource(),
      logger,
      selector: `parley.io/test-run=${runLabel}`,
      autoscalerIntervalMs: 250,
      // The chart's Role grants only its own Lease, named after the release by default.
      leaderElection: { namespace: operatorNamespace, name: `${release}-parley-operator`, identity: "rbac", retryPeriodMs: 200 },
    });
    operator = impersonating;
    await impersonating.start();
    const ns = await namespaceWithKubelet();
    const rbacName = uniqueName("rbac");
    await apply(ns, rbacName);
    const failures: unknown[] = [];
    impersonating.onReconciled((key, error) => {
      if (error instanceof KubeError && error.status === 403) failures.push(error.message);
    });
    await waitForCluster(ns, rbacName, isReady, "Ready, reconciled as the ServiceAccount");
    await kubectl(["delete", "mc", "-n", ns, rbacName, "--wait=false"]);
    await waitForCluster(ns, rbacName, (c) => c === undefined, "deleted as the ServiceAccount");
    expect(failures).toEqual([]);
    await run(env.helm, ["uninstall", release, "--namespace", operatorNamespace], env.kubeconfig);
    // Its rights went with the release: the clean-up after the tests needs an operator that has them.
    await impersonating.stop();
    operator = startOperator();
    await operator.start();
  }, 120_000);
});
