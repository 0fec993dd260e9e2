import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRD_NAME, type MessagingCluster } from "../../api/v1alpha1/messagingcluster.js";
import { MemoryEventRecorder } from "../events.js";
import { RESOURCES } from "../../kube/kube-api.js";
import { CRD_FILE, repositoryRoot } from "../../tools/generate-crd.js";
import { crdEstablished, kubeTestEnv, run, uniqueName } from "../../testing/kube-test-env.js";
import { join } from "node:path";
import { PodMonitorStep } from "./pod-monitor-step.js";
import { ReconcileContext } from "./step.js";

/**
 * Against the real API server (hack/servers/kube.sh). A CRD is cluster-wide and other test
 * files share the server, so this file's PodMonitor CRD is a copy of the kind in a group
 * of its own: "installed" and "missing" never depend on what another test did.
 */
const env = kubeTestEnv();
const namespace = uniqueName("parley-pm");
const group = `${namespace}.monitoring.parley.test`;
const installed = { apiVersion: `${group}/v1`, plural: "podmonitors" };
const missing = { apiVersion: `absent-${namespace}.monitoring.parley.test/v1`, plural: "podmonitors" };

function kubectl(args: string[], input?: string) {
  return run(env.kubectl, args, env.kubeconfig, input);
}

/** The smallest PodMonitor CRD the API server takes (the real one's schema is not the point here). */
function podMonitorCrd(): string {
  return JSON.stringify({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `podmonitors.${group}` },
    spec: {
      group,
      names: { kind: "PodMonitor", plural: "podmonitors", singular: "podmonitor", listKind: "PodMonitorList" },
      scope: "Namespaced",
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
    },
  });
}

async function clusterWithPodMonitor(name: string, enabled: boolean): Promise<MessagingCluster> {
  const ref = (key: string) => ({ secretKeyRef: { name: "creds", key } });
  const body = {
    apiVersion: "messaging.parley.io/v1alpha1",
    kind: "MessagingCluster",
    metadata: { name, namespace },
    spec: {
      jwtSecret: ref("jwt"),
      kafka: { bootstrapServers: ["kafka:9092"] },
      cassandra: { contactPoints: ["cassandra:9042"] },
      redis: { url: "redis://redis:6379" },
      objectStorage: { endpoint: "http://s3:9000", bucket: `${name}-assets`, accessKey: ref("access"), secretKey: ref("secret") },
      monitoring: { podMonitor: { enabled, interval: "15s", labels: { release: "prometheus" } } },
    },
  };
  const applied = await env.kube.apply<MessagingCluster>({ ...RESOURCES.messagingClusters, namespace, name }, body, { fieldManager: "test", force: true });
  return applied.object;
}

beforeAll(async () => {
  const crd = await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repositoryRoot(), CRD_FILE)]);
  expect(crd.code, crd.stderr).toBe(0);
  const created = await kubectl(["apply", "-f", "-"], podMonitorCrd());
  expect(created.code, created.stderr).toBe(0);
  for (const name of [CRD_NAME, `podmonitors.${group}`]) {
    await crdEstablished(env, name);
  }
  expect((await kubectl(["create", "namespace", namespace])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await kubectl(["delete", "namespace", namespace, "--wait=false"]);
  await kubectl(["delete", "crd", `podmonitors.${group}`, "--wait=false"]);
});

describe("PodMonitorStep on a real API server", () => {
  it("creates a PodMonitor for every pod of the cluster, owned by it, and says so in PodMonitorReady", async () => {
    const cluster = await clusterWithPodMonitor("scraped", true);
    const events = new MemoryEventRecorder();
    const ctx = new ReconcileContext(cluster, new Date());
    await new PodMonitorStep({ kube: env.kube, events, resource: installed }).run(ctx);

    const podMonitor = await env.kube.get<{ metadata: { labels: Record<string, string>; ownerReferences: { uid: string }[] }; spec: unknown }>({
      ...installed,
      namespace,
      name: "scraped-parley",
    });
    expect(podMonitor?.metadata.ownerReferences.map((o) => o.uid)).toEqual([cluster.metadata.uid]);
    expect(podMonitor?.metadata.labels).toMatchObject({ release: "prometheus", "app.kubernetes.io/instance": "scraped" });
    expect(podMonitor?.spec).toMatchObject({
      selector: { matchLabels: { "app.kubernetes.io/name": "parley", "app.kubernetes.io/instance": "scraped" } },
      podMetricsEndpoints: [{ port: "http", path: "/metrics", interval: "15s" }],
    });
    expect(ctx.conditions().find((c) => c.type === "PodMonitorReady")).toMatchObject({ status: "True", reason: "Applied" });
    expect(events.reasons()).toEqual(["Created"]);
  });

  it("says in PodMonitorReady that the Prometheus Operator's CRDs are missing, and lets the reconcile go on", async () => {
    const cluster = await clusterWithPodMonitor("unscraped", true);
    const ctx = new ReconcileContext(cluster, new Date());
    const outcome = await new PodMonitorStep({ kube: env.kube, events: new MemoryEventRecorder(), resource: missing }).run(ctx);
    expect(outcome.outcome).toBe("continue");
    const condition = ctx.conditions().find((c) => c.type === "PodMonitorReady");
    expect(condition).toMatchObject({ status: "False", reason: "PrometheusOperatorMissing" });
    expect(condition?.message).toContain("install the Prometheus Operator's CRDs");
  });

  it("deletes the PodMonitor and its condition once the spec no longer asks for one", async () => {
    const step = new PodMonitorStep({ kube: env.kube, events: new MemoryEventRecorder(), resource: installed });
    const first = new ReconcileContext(await clusterWithPodMonitor("turned-off", true), new Date());
    await step.run(first);
    const cluster = await clusterWithPodMonitor("turned-off", false);
    const ctx = new ReconcileContext({ ...cluster, status: first.status }, new Date());
    await step.run(ctx);
    expect(await env.kube.get({ ...installed, namespace, name: "turned-off-parley" })).toBeUndefined();
    expect(ctx.conditions().map((c) => c.type)).not.toContain("PodMonitorReady");
  });
});
