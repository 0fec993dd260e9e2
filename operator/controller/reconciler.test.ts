import { describe, expect, it } from "vitest";
import { createLogger } from "../../services/runtime/logger.js";
import { FINALIZER, type MessagingCluster, type MessagingClusterSpec } from "../api/v1alpha1/messagingcluster.js";
import { RESOURCES } from "../kube/kube-api.js";
import { FakeExternalState } from "../testing/fake-external-state.js";
import { FakeKubeApi } from "../testing/fake-kube-api.js";
import { defaultedSpec, messagingCluster, secretData } from "../testing/fixtures.js";
import { MemoryEventRecorder } from "./events.js";
import { DependencyError } from "./reconcile/errors.js";
import { Reconciler } from "./reconciler.js";

const logger = createLogger("silent");
const clusterRef = { ...RESOURCES.messagingClusters, namespace: "team", name: "demo" };

function setup(spec: MessagingClusterSpec = defaultedSpec()) {
  const kube = new FakeKubeApi();
  const external = new FakeExternalState();
  const events = new MemoryEventRecorder();
  const scaling = new Map<string, { connections?: number }>();
  kube.seed({ ...RESOURCES.secrets, namespace: "team" }, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "creds", namespace: "team" },
    data: secretData({ jwt: "x".repeat(40), access: "ak", secret: "sk" }),
  });
  kube.seed(RESOURCES.messagingClusters, messagingCluster("demo", "team", spec) as unknown as Record<string, unknown>);
  const reconciler = new Reconciler({ kube, external, events, logger, scaling: (uid) => scaling.get(uid) });
  const cluster = () => kube.object(clusterRef) as unknown as MessagingCluster;
  const condition = (type: string) => cluster().status?.conditions?.find((c) => c.type === type);
  return { kube, external, events, reconciler, cluster, condition, scaling };
}

/** Marks a Deployment's pods ready, as the Deployment controller would report them. */
function rollOut(kube: FakeKubeApi, name: string): void {
  const ref = { ...RESOURCES.deployments, namespace: "team", name };
  const deployment = kube.object(ref) as { metadata: { generation: number }; spec: { replicas: number } };
  const n = deployment.spec.replicas;
  void kube.mergePatch({ ...ref, subresource: "status" }, {
    status: { observedGeneration: deployment.metadata.generation, replicas: n, readyReplicas: n, updatedReplicas: n, availableReplicas: n },
  });
}

describe("Reconciler", () => {
  it("sets up the back ends, applies every child object, adds the finalizer and reports status", async () => {
    const { kube, external, events, reconciler, cluster, condition } = setup();
    const result = await reconciler.reconcile("team", "demo");
    expect(result.requeueAfterMs).toBe(30_000);
    expect(cluster().metadata.finalizers).toEqual([FINALIZER]);
    expect([...external.topics.keys()]).toEqual([
      "parley.demo.activity",
      "parley.demo.notifications",
      "parley.demo.requests.chat",
      "parley.demo.requests.groups",
      "parley.demo.requests.presence",
      ...Array.from({ length: 16 }, (_, shard) => `parley.demo.group-shard.${String(shard)}`),
    ]);
    expect(external.keyspaces.get("parley")).toBe(3);
    expect(external.buckets.has("assets")).toBe(true);
    for (const name of ["demo-gateway", "demo-chat", "demo-groups", "demo-presence", "demo-assets"]) {
      expect(kube.object({ ...RESOURCES.deployments, namespace: "team", name })).toBeDefined();
    }
    expect(kube.object({ ...RESOURCES.configMaps, namespace: "team", name: "demo-config" })).toBeDefined();
    expect(kube.object({ ...RESOURCES.podDisruptionBudgets, namespace: "team", name: "demo-gateway" })).toBeDefined();
    expect(cluster().status).toMatchObject({ observedGeneration: 1, schemaVersion: 3, clusterName: "demo", gateway: { selector: expect.stringContaining("component=gateway") as unknown } });
    expect(condition("KafkaReady")).toMatchObject({ status: "True", reason: "TopicsReady" });
    expect(condition("CassandraReady")).toMatchObject({ status: "True", message: "keyspace parley at schema version 3" });
    expect(condition("StorageReady")).toMatchObject({ status: "True" });
    expect(condition("Ready")).toMatchObject({ status: "False", reason: "ServicesNotReady" });
    expect(condition("Progressing")).toMatchObject({ status: "True", reason: "RollingOut" });
    expect(events.reasons()).toEqual(expect.arrayContaining(["TopicsCreated", "MigrationsApplied", "BucketCreated", "Created"]));
  });

  it("becomes Ready once every Deployment runs its pods, and a second reconcile writes nothing", async () => {
    const { kube, reconciler, condition } = setup();
    await reconciler.reconcile("team", "demo");
    for (const service of ["gateway", "chat", "groups", "presence", "assets"]) rollOut(kube, `demo-${service}`);
    const result = await reconciler.reconcile("team", "demo");
    expect(result.requeueAfterMs).toBe(600_000);
    expect(condition("Ready")).toMatchObject({ status: "True", reason: "AllServicesAvailable" });
    expect(condition("Progressing")).toMatchObject({ status: "False", reason: "RolloutComplete" });
    expect(condition("Degraded")).toMatchObject({ status: "False" });
    const writes = kube.writes.length;
    await reconciler.reconcile("team", "demo");
    expect(kube.writes.slice(writes)).toEqual([]);
  });

  it("refuses settings the settings table rejects, before touching anything", async () => {
    const { kube, external, reconciler, condition, events } = setup(defaultedSpec({ chat: { replicas: 2, settings: { PARLEY_REQUEST_TIMEOUT_MS: "5" } } }));
    await reconciler.reconcile("team", "demo");
    expect(condition("Ready")).toMatchObject({ status: "False", reason: "InvalidSpec", message: expect.stringContaining("spec.chat.settings.PARLEY_REQUEST_TIMEOUT_MS") as unknown });
    expect(external.calls).toEqual([]);
    expect(kube.object({ ...RESOURCES.deployments, namespace: "team", name: "demo-chat" })).toBeUndefined();
    expect(events.reasons()).toEqual(["InvalidSpec"]);
  });

  it("reports a back end that fails, creates no workload before the first success, and retries with backoff", async () => {
    const { kube, external, reconciler, condition, events } = setup();
    external.failing.set("cassandra", "connect ECONNREFUSED 10.0.0.9:9042");
    await expect(reconciler.reconcile("team", "demo")).rejects.toBeInstanceOf(DependencyError);
    expect(condition("CassandraReady")).toMatchObject({ status: "False", reason: "CassandraUnavailable", message: "connect ECONNREFUSED 10.0.0.9:9042" });
    expect(condition("KafkaReady")).toMatchObject({ status: "True" });
    expect(condition("Degraded")).toMatchObject({ status: "True", reason: "BackendUnavailable" });
    expect(condition("Ready")).toMatchObject({ status: "False", reason: "BackendsNotReady" });
    expect(kube.object({ ...RESOURCES.deployments, namespace: "team", name: "demo-gateway" })).toBeUndefined();
    expect(events.reasons()).toContain("CassandraUnavailable");
    external.failing.clear();
    await reconciler.reconcile("team", "demo");
    expect(condition("CassandraReady")).toMatchObject({ status: "True" });
    expect(kube.object({ ...RESOURCES.deployments, namespace: "team", name: "demo-gateway" })).toBeDefined();
  });

  it("keeps the workloads through a later back-end outage", async () => {
    const { kube, external, reconciler, condition } = setup();
    await reconciler.reconcile("team", "demo");
    external.failing.set("kafka", "broker down");
    // A spec change forces the back ends to be checked again.
    await kube.mergePatch(clusterRef, { spec: { kafka: { partitions: 12 } } });
    await expect(reconciler.reconcile("team", "demo")).rejects.toThrow(/KafkaReady: broker down/);
    expect(condition("KafkaReady")).toMatchObject({ status: "False" });
    expect(kube.object({ ...RESOURCES.deployments, namespace: "team", name: "demo-gateway" })).toBeDefined();
  });

  it("names a missing Secret in the condition of the back end that needs it", async () => {
    const { reconciler, condition } = setup(
      defaultedSpec({ objectStorage: { ...defaultedSpec().objectStorage, secretKey: { secretKeyRef: { name: "nope", key: "k" } } } }),
    );
    await expect(reconciler.reconcile("team", "demo")).rejects.toThrow(/StorageReady/);
    expect(condition("StorageReady")).toMatchObject({ status: "False", reason: "SecretUnavailable", message: "Secret nope not found" });
  });

  it("rolls the pod template when a setting changes", async () => {
    const { kube, reconciler, events } = setup();
    await reconciler.reconcile("team", "demo");
    const ref = { ...RESOURCES.deployments, namespace: "team", name: "demo-groups" };
    const hash = () => (kube.object(ref) as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations["messaging.parley.io/config-hash"];
    const before = hash();
    await kube.mergePatch(clusterRef, { spec: { groups: { settings: { PARLEY_MAX_GROUP_MEMBERS: "500" } } } });
    await reconciler.reconcile("team", "demo");
    expect(hash()).not.toBe(before);
    expect(events.events.filter((e) => e.reason === "Updated").map((e) => e.message)).toEqual(["updated Deployment demo-groups"]);
  });

  it("prunes what it owns and no longer wants, and leaves other objects alone", async () => {
    const { kube, reconciler } = setup();
    await reconciler.reconcile("team", "demo");
    const labels = { "app.kubernetes.io/managed-by": "parley-operator", "app.kubernetes.io/instance": "demo" };
    kube.seed({ ...RESOURCES.configMaps, namespace: "team" }, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "demo-old", namespace: "team", labels, ownerReferences: [{ uid: "uid-demo" }] },
    });
    kube.seed({ ...RESOURCES.configMaps, namespace: "team" }, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "someone-elses", namespace: "team", labels } });
    // A new reconciler (a restarted operator) prunes once.
    const fresh = new Reconciler({ kube, external: new FakeExternalState(), events: new MemoryEventRecorder(), logger });
    await fresh.reconcile("team", "demo");
    expect(kube.object({ ...RESOURCES.configMaps, namespace: "team", name: "demo-old" })).toBeUndefined();
    expect(kube.object({ ...RESOURCES.configMaps, namespace: "team", name: "someone-elses" })).toBeDefined();
  });

  it("on deletion with reclaimPolicy Delete removes topics, keyspace and bucket, then the finalizer", async () => {
    const { kube, external, reconciler, events } = setup(defaultedSpec({ reclaimPolicy: "Delete" }));
    await reconciler.reconcile("team", "demo");
    external.topics.set("parley.demo.group.g1", { partitions: 6 });
    external.topics.set("parley.other.activity", { partitions: 6 });
    await kube.delete(clusterRef);
    // The namespace is going away: the Secrets are gone too; the operator remembers the credentials.
    await kube.delete({ ...RESOURCES.secrets, namespace: "team", name: "creds" });
    await reconciler.reconcile("team", "demo");
    expect([...external.topics.keys()]).toEqual(["parley.other.activity"]);
    expect(external.keyspaces.size).toBe(0);
    expect(external.buckets.size).toBe(0);
    expect(kube.object(clusterRef)).toBeUndefined();
    expect(events.reasons()).toEqual(expect.arrayContaining(["TopicsDeleted", "KeyspaceDropped", "BucketRemoved"]));
  });

  it("on deletion with reclaimPolicy Delete whose Secrets are already gone keeps the bucket rather than block", async () => {
    const { kube, external, reconciler, events } = setup(defaultedSpec({ reclaimPolicy: "Delete" }));
    await reconciler.reconcile("team", "demo");
    await kube.delete(clusterRef);
    await kube.delete({ ...RESOURCES.secrets, namespace: "team", name: "creds" });
    // A restarted operator never read the credentials.
    const fresh = new Reconciler({ kube, external, events, logger });
    await fresh.reconcile("team", "demo");
    expect(external.topics.size).toBe(0);
    expect(external.keyspaces.size).toBe(0);
    expect(external.buckets.size).toBe(1);
    expect(kube.object(clusterRef)).toBeUndefined();
    expect(events.reasons()).toContain("BucketKept");
  });

  it("on deletion with reclaimPolicy Retain keeps the data", async () => {
    const { kube, external, reconciler, events } = setup();
    await reconciler.reconcile("team", "demo");
    await kube.delete(clusterRef);
    await reconciler.reconcile("team", "demo");
    expect(external.topics.size).toBe(21);
    expect(external.keyspaces.size).toBe(1);
    expect(external.buckets.size).toBe(1);
    expect(kube.object(clusterRef)).toBeUndefined();
    expect(events.reasons()).toContain("DataRetained");
  });

  it("brings group topics in line with kafka.groupTopics and deletes those of deleted groups", async () => {
    const spec = defaultedSpec({ kafka: { ...defaultedSpec().kafka, groupTopics: { partitions: 8, retentionMs: 3600000, deleteWithGroup: true } } });
    const { external, reconciler, events } = setup(spec);
    external.topics.set("parley.demo.group.alive", { partitions: 6 });
    external.topics.set("parley.demo.group.gone", { partitions: 6 });
    external.groups.add("alive");
    await reconciler.reconcile("team", "demo");
    expect(external.topics.get("parley.demo.group.alive")).toEqual({ partitions: 8, retentionMs: 3600000 });
    expect(external.topics.has("parley.demo.group.gone")).toBe(false);
    expect(events.reasons()).toEqual(expect.arrayContaining(["GroupTopicsUpdated", "GroupTopicsDeleted"]));
  });

  it("shows the autoscaler's connection count in status", async () => {
    const { reconciler, cluster, scaling } = setup();
    scaling.set("uid-demo", { connections: 1234 });
    await reconciler.reconcile("team", "demo");
    expect(cluster().status?.gateway?.connections).toBe(1234);
  });
});
