import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { viewOf } from "../../builders/cluster.js";
import { crdEstablished, kubeTestEnv, run } from "../../testing/kube-test-env.js";
import { OPERATOR_VERSION } from "../../version.js";
import { GROUP, messagingClusterCrd, PLURAL, VERSION, type MessagingCluster } from "./messagingcluster.js";

/**
 * What the real API server (hack/servers/kube.sh) admits and stores for the CRD as
 * generated. The CRD is installed under a group of this run's own, so that other test
 * runs sharing the control plane (and the real CRD) are not disturbed.
 */
const group = `t${randomBytes(3).toString("hex")}.${GROUP}`;
const crdName = `${PLURAL}.${group}`;
let env: ReturnType<typeof kubeTestEnv>;

function kubectl(args: readonly string[], input?: string) {
  return run(env.kubectl, args, env.kubeconfig, input);
}

/** A valid MessagingCluster of the test group, with `change` applied to its spec. */
function cluster(name: string, change: (spec: Record<string, unknown>) => void = () => undefined): string {
  const ref = (key: string) => ({ secretKeyRef: { name: "credentials", key } });
  const spec: Record<string, unknown> = {
    jwtSecret: ref("jwt"),
    kafka: { bootstrapServers: ["kafka:9092"] },
    cassandra: { contactPoints: ["cassandra:9042"] },
    redis: { url: "redis://redis:6379" },
    objectStorage: { endpoint: "http://s3:9000", bucket: "assets", accessKey: ref("a"), secretKey: ref("s") },
  };
  change(spec);
  return JSON.stringify({ apiVersion: `${group}/${VERSION}`, kind: "MessagingCluster", metadata: { name, namespace: "default" }, spec });
}

/** Server-side dry-run create: what the API server would store, or its refusal. */
async function dryRunCreate(manifest: string): Promise<{ code: number; stored?: MessagingCluster; stderr: string }> {
  const result = await kubectl(["create", "--dry-run=server", "-o", "json", "-f", "-"], manifest);
  return { code: result.code, stderr: result.stderr, ...(result.code === 0 ? { stored: JSON.parse(result.stdout) as MessagingCluster } : {}) };
}

beforeAll(async () => {
  env = kubeTestEnv();
  const crd = messagingClusterCrd() as { metadata: { name: string }; spec: { group: string; names: { shortNames?: string[]; categories?: string[] } } };
  crd.metadata.name = crdName;
  crd.spec.group = group;
  // Without them: `kubectl get mc` (or `get parley`) of tests running meanwhile must still mean the real CRD.
  delete crd.spec.names.shortNames;
  delete crd.spec.names.categories;
  const created = await kubectl(["create", "-f", "-"], JSON.stringify(crd));
  expect(created.code, created.stderr).toBe(0);
  await crdEstablished(env, crdName);
}, 90_000);

afterAll(async () => {
  await kubectl(["delete", "crd", crdName, "--wait=false"]);
  env.kube.close();
});

describe("the MessagingCluster CRD in the API server", () => {
  it("stores no image tag the user did not pin, so the cluster runs the operator's own version", async () => {
    const unpinned = await dryRunCreate(cluster("unpinned"));
    expect(unpinned.code, unpinned.stderr).toBe(0);
    expect(unpinned.stored?.spec.image).toEqual({ repository: "parley", pullPolicy: "IfNotPresent" });
    if (unpinned.stored === undefined) throw new Error("nothing stored");
    expect(viewOf(unpinned.stored).spec.image.tag).toBe(OPERATOR_VERSION);

    const pinned = await dryRunCreate(
      cluster("pinned", (spec) => {
        spec.image = { tag: "0.0.9" };
      }),
    );
    expect(pinned.stored?.spec.image.tag).toBe("0.0.9");
    if (pinned.stored === undefined) throw new Error("nothing stored");
    expect(viewOf(pinned.stored).spec.image.tag).toBe("0.0.9");
  });

  it("names the settings key it refuses, and where", async () => {
    const refused = await dryRunCreate(
      cluster("unknown-key", (spec) => {
        spec.gateway = { settings: { PARLEY_MAX_CONNECTIONS: "5000", PARLEY_NOT_A_SETTING: "1" } };
      }),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('spec.gateway.settings: Invalid value: "PARLEY_NOT_A_SETTING" is not a setting a MessagingCluster may set; settings may name: PARLEY_LOG_LEVEL');
  });

  it("puts the name rule's message on metadata.name (no <nil> path)", async () => {
    const refused = await dryRunCreate(cluster("a".repeat(41)));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("metadata.name: Invalid value: a MessagingCluster's name has at most 40 characters");
    expect(refused.stderr).not.toContain("<nil>");
  });

  it("refuses a resource quantity that is not one, naming the field", async () => {
    const refused = await dryRunCreate(
      cluster("bad-quantity", (spec) => {
        spec.chat = { resources: { limits: { memory: "lots" } } };
      }),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("spec.chat.resources.limits.memory");
  });
});
