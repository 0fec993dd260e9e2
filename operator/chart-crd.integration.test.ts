import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, SINGULAR } from "./api/v1alpha1/messagingcluster.js";
import { crdEstablished, kubeTestEnv, run, uniqueName } from "./testing/kube-test-env.js";
import { repositoryRoot } from "./tools/generate-crd.js";

/**
 * The CRD's lifecycle through Helm (crds.enabled, crds.keep) on the real API server
 * (hack/servers/kube.sh; no nodes are needed: nothing waits for pods). The chart is copied
 * with the CRD's group renamed to one of this run's own, since a CRD is cluster-wide and
 * other tests share the real one.
 */
let env: ReturnType<typeof kubeTestEnv>;
const work = mkdtempSync(join(tmpdir(), "parley-chart-crd-"));
const cleanup: string[][] = [];

function kubectl(args: readonly string[], input?: string) {
  return run(env.kubectl, args, env.kubeconfig, input);
}

function helm(args: readonly string[]) {
  return run(env.helm, args, env.kubeconfig);
}

/** A copy of the chart whose CRD serves `group` instead of messaging.parley.io. */
function chartWithGroup(group: string): string {
  const chart = join(work, group);
  cpSync(join(repositoryRoot(), "charts/parley"), chart, { recursive: true });
  const crd = join(chart, "templates/crd.yaml");
  // Without the short name and category: `kubectl get mc` of tests running meanwhile must still mean the real CRD.
  const text = readFileSync(crd, "utf8").replaceAll(GROUP, group).replace("    shortNames:\n      - mc\n", "").replace("    categories:\n      - parley\n", "");
  expect(text).not.toMatch(/shortNames|categories/);
  writeFileSync(crd, text);
  return chart;
}

/** The test's "new release" of the CRD: one more printer column. */
function changeCrd(chart: string): void {
  const crd = join(chart, "templates/crd.yaml");
  const text = readFileSync(crd, "utf8");
  const marker = "      additionalPrinterColumns:\n";
  expect(text).toContain(marker);
  writeFileSync(crd, text.replace(marker, `${marker}        - name: Upgraded\n          type: string\n          jsonPath: .spec.logLevel\n`));
}

async function crd(name: string): Promise<{ metadata: { annotations?: Record<string, string> }; spec: { versions: { additionalPrinterColumns: { name: string }[] }[] } } | undefined> {
  const got = await kubectl(["get", "crd", name, "-o", "json"]);
  return got.code === 0 ? (JSON.parse(got.stdout) as never) : undefined;
}

function cluster(group: string, name: string): string {
  const ref = (key: string) => ({ secretKeyRef: { name: "credentials", key } });
  return JSON.stringify({
    apiVersion: `${group}/v1alpha1`,
    kind: "MessagingCluster",
    metadata: { name },
    spec: {
      jwtSecret: ref("jwt"),
      kafka: { bootstrapServers: ["kafka:9092"] },
      cassandra: { contactPoints: ["cassandra:9042"] },
      redis: { url: "redis://redis:6379" },
      objectStorage: { endpoint: "http://s3:9000", bucket: "assets", accessKey: ref("a"), secretKey: ref("s") },
    },
  });
}

/** Installs a release of the chart copy (no RBAC or pods that matter here) and waits for its CRD. */
async function install(release: string, namespace: string, chart: string, values: readonly string[], crdName: string): Promise<void> {
  cleanup.push(["delete", "crd", crdName, "--ignore-not-found", "--wait=false"], ["delete", "namespace", namespace, "--wait=false"]);
  const installed = await helm(["install", release, chart, "--namespace", namespace, "--create-namespace", "--wait=false", "--set", "replicaCount=1", "--set", "rbac.create=false", ...values.flatMap((v) => ["--set", v])]);
  expect(installed.code, installed.stderr).toBe(0);
  await crdEstablished(env, crdName);
}

beforeAll(() => {
  env = kubeTestEnv();
});

afterAll(async () => {
  for (const args of cleanup) await kubectl(args);
  rmSync(work, { recursive: true, force: true });
  env.kube.close();
});

describe("the chart's CRD", () => {
  it("is installed by helm install, changed by helm upgrade, and with crds.keep left with the users' clusters by helm uninstall", async () => {
    const group = `t${randomBytes(3).toString("hex")}.${GROUP}`;
    const crdName = `${PLURAL}.${group}`;
    const release = uniqueName("crd");
    const namespace = uniqueName("parley-crd");
    const chart = chartWithGroup(group);
    await install(release, namespace, chart, [], crdName);
    expect((await crd(crdName))?.metadata.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    const applied = await kubectl(["apply", "-n", namespace, "-f", "-"], cluster(group, "users-cluster"));
    expect(applied.code, applied.stderr).toBe(0);

    changeCrd(chart);
    const upgraded = await helm(["upgrade", release, chart, "--namespace", namespace, "--wait=false", "--reuse-values"]);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect((await crd(crdName))?.spec.versions[0]?.additionalPrinterColumns.map((c) => c.name)).toContain("Upgraded");

    const uninstalled = await helm(["uninstall", release, "--namespace", namespace, "--wait=false"]);
    expect(uninstalled.code, uninstalled.stderr).toBe(0);
    expect(await crd(crdName)).toBeDefined();
    const kept = await kubectl(["get", `${PLURAL}.${group}`, "-n", namespace, "users-cluster", "-o", "name"]);
    expect(kept.stdout.trim()).toBe(`${SINGULAR}.${group}/users-cluster`);
  }, 120_000);

  it("without crds.keep goes with the release; with crds.enabled=false is not rendered at all", async () => {
    const group = `t${randomBytes(3).toString("hex")}.${GROUP}`;
    const crdName = `${PLURAL}.${group}`;
    const release = uniqueName("crd");
    const namespace = uniqueName("parley-crd");
    const chart = chartWithGroup(group);
    await install(release, namespace, chart, ["crds.keep=false"], crdName);
    expect((await crd(crdName))?.metadata.annotations?.["helm.sh/resource-policy"]).toBeUndefined();
    const uninstalled = await helm(["uninstall", release, "--namespace", namespace, "--wait"]);
    expect(uninstalled.code, uninstalled.stderr).toBe(0);
    expect(await crd(crdName)).toBeUndefined();

    const rendered = await helm(["template", release, chart, "--set", "crds.enabled=false"]);
    expect(rendered.code, rendered.stderr).toBe(0);
    expect(rendered.stdout).not.toContain("kind: CustomResourceDefinition");
  }, 120_000);
});
