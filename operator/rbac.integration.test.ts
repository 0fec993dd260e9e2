import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { kubeTestEnv, run, uniqueName } from "./testing/kube-test-env.js";
import { repositoryRoot } from "./tools/generate-crd.js";

/**
 * The chart's RBAC on the real API server (hack/servers/kube.sh): rendered with
 * `helm template`, applied, and read back with `kubectl auth can-i --list` as the chart's
 * ServiceAccount, which must hold exactly what operator/rbac.ts lists, where it lists it.
 */
let env: ReturnType<typeof kubeTestEnv>;
const created: { namespaces: string[]; clusterScoped: string[] } = { namespaces: [], clusterScoped: [] };

function kubectl(args: readonly string[], input?: string) {
  return run(env.kubectl, args, env.kubeconfig, input);
}

interface Rendered {
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** `helm template` of the chart; its ServiceAccount and RBAC objects applied to the API server. */
async function installRbac(release: string, namespace: string, values: readonly string[]): Promise<Rendered[]> {
  const rendered = await run(env.helm, ["template", release, join(repositoryRoot(), "charts/parley"), "--namespace", namespace, ...values.flatMap((v) => ["--set", v])], env.kubeconfig);
  expect(rendered.code, rendered.stderr).toBe(0);
  const objects = parseAllDocuments(rendered.stdout)
    .map((doc) => doc.toJS() as Rendered | null)
    .filter((o): o is Rendered => o !== null && ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind));
  for (const o of objects) {
    if (o.kind.startsWith("Cluster")) created.clusterScoped.push(`${o.kind.toLowerCase()}/${o.metadata.name}`);
    // helm template leaves the release namespace out of objects that do not name one.
    else o.metadata.namespace ??= namespace;
  }
  const applied = await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
  expect(applied.code, applied.stderr).toBe(0);
  return objects;
}

async function namespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  expect((await kubectl(["create", "namespace", name])).code).toBe(0);
  created.namespaces.push(name);
  return name;
}

/** One line per resource (and resource names): `resource [names] verbs`, verbs merged and sorted. */
function normalize(rows: readonly { resource: string; names: string; verbs: string[] }[]): string[] {
  const merged = new Map<string, Set<string>>();
  for (const { resource, names, verbs } of rows) {
    const key = `${resource} ${names}`;
    merged.set(key, new Set([...(merged.get(key) ?? []), ...verbs]));
  }
  return [...merged].map(([key, verbs]) => `${key} ${[...verbs].sort().join(",")}`).sort();
}

/** `kubectl auth can-i --list` as a user, in a namespace: its resource rows (not the non-resource URLs). */
async function canIList(user: string, ns: string): Promise<string[]> {
  const listed = await kubectl(["auth", "can-i", "--list", `--as=${user}`, "-n", ns]);
  expect(listed.code, listed.stderr).toBe(0);
  const rows = listed.stdout
    .split("\n")
    .slice(1)
    .map((line) => /^(\S+)\s+\[[^\]]*\]\s+(\[[^\]]*\])\s+\[([^\]]*)\]\s*$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ resource: match[1] ?? "", names: match[2] ?? "", verbs: (match[3] ?? "").split(" ") }));
  return normalize(rows);
}

/** What a ServiceAccount with no binding may do anyway (discovery, self reviews). */
let baseline: string[];

/** The ServiceAccount's permissions in a namespace beyond the baseline. */
async function granted(serviceAccount: string, ns: string): Promise<string[]> {
  return (await canIList(serviceAccount, ns)).filter((row) => !baseline.includes(row));
}

/**
 * Exactly what the code calls, in the namespaces it reconciles (a change to operator/rbac.ts
 * that grants more, or less, fails here until this list says why):
 */
const RECONCILE = [
  "configmaps [] create,delete,list,patch", // workloads-step: server-side apply (create when new), prune (list, delete)
  "deployments.apps [] create,delete,get,list,patch,watch", // the informer (list, watch), workloads-step (apply, prune, get before the cache has it)
  "events [] create", // events.ts
  "messagingclusters.messaging.parley.io [] get,list,patch,watch", // the informer, reconciler.ts (get), finalizer-step (JSON patch)
  "messagingclusters.messaging.parley.io/finalizers [] update", // blockOwnerDeletion on the children's owner references
  "messagingclusters.messaging.parley.io/scale [] patch", // gateway-scaling.ts
  "messagingclusters.messaging.parley.io/status [] patch", // write-status.ts
  "poddisruptionbudgets.policy [] create,delete,list,patch", // workloads-step
  "podmonitors.monitoring.coreos.com [] create,delete,patch", // pod-monitor-step: apply, delete when turned off
  "secrets [] get", // cluster-secrets.ts, gateway-scaling.ts (Redis password)
  "serviceaccounts [] create,delete,list,patch", // workloads-step
  "services [] create,delete,list,patch", // workloads-step
];

/** In the release namespace: leader-election.ts creates the Lease once, then reads and renews its own. */
function lease(name: string): string[] {
  return ["leases.coordination.k8s.io [] create", `leases.coordination.k8s.io [${name}] get,update`];
}

beforeAll(async () => {
  env = kubeTestEnv();
  baseline = await canIList("system:serviceaccount:default:parley-rbac-test-nobody", "default");
});

afterAll(async () => {
  for (const object of created.clusterScoped) await kubectl(["delete", object, "--ignore-not-found"]);
  for (const ns of created.namespaces) await kubectl(["delete", "namespace", ns, "--wait=false"]);
  env.kube.close();
});

describe("the chart's RBAC, as kubectl auth can-i --list sees it", () => {
  it("watching every namespace: the reconcile rules everywhere, the Lease (by name) only in the release namespace", async () => {
    const release = uniqueName("rbac-all");
    const operatorNs = await namespace("parley-op");
    const elsewhere = await namespace("parley-x");
    const objects = await installRbac(release, operatorNs, ["leaderElection.leaseName=my-lease"]);
    expect(objects.map((o) => o.kind).sort()).toEqual(["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"]);
    const serviceAccount = `system:serviceaccount:${operatorNs}:${release}-parley-operator`;
    expect(await granted(serviceAccount, elsewhere)).toEqual(RECONCILE);
    expect(await granted(serviceAccount, operatorNs)).toEqual([...RECONCILE, ...lease("my-lease")].sort());
  });

  it("watching one namespace: no cluster-wide object, the reconcile rules only there, nothing elsewhere", async () => {
    const release = uniqueName("rbac-one");
    const operatorNs = await namespace("parley-op");
    const watched = await namespace("parley-w");
    const elsewhere = await namespace("parley-x");
    const objects = await installRbac(release, operatorNs, [`watchNamespace=${watched}`]);
    expect(objects.map((o) => o.kind).sort()).toEqual(["Role", "Role", "RoleBinding", "RoleBinding", "ServiceAccount"]);
    const serviceAccount = `system:serviceaccount:${operatorNs}:${release}-parley-operator`;
    // The default Lease name is the release's full name.
    expect(await granted(serviceAccount, watched)).toEqual(RECONCILE);
    expect(await granted(serviceAccount, operatorNs)).toEqual(lease(`${release}-parley-operator`));
    expect(await granted(serviceAccount, elsewhere)).toEqual([]);
  });
});
