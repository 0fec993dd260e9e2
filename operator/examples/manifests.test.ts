import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdEstablished, kubeTestEnv, run, uniqueName } from "../testing/kube-test-env.js";
import { CRD_FILE, repositoryRoot } from "../tools/generate-crd.js";

/**
 * Every manifest a user applies by hand (the kind path's back ends and sample, the example
 * MessagingCluster) is accepted by a real API server: a server-side dry run, which runs
 * the CRD's schema and CEL rules and the built-in types' validation, in a namespace of
 * this test's own. Docker and kind cannot run here; this is the part that can.
 */
const root = repositoryRoot();
const MANIFESTS = [
  ...readdirSync(join(root, "hack/kind/backends")).map((file) => `hack/kind/backends/${file}`),
  "hack/kind/messagingcluster.yaml",
  "operator/examples/messagingcluster.yaml",
];
const env = kubeTestEnv();
const namespace = uniqueName("manifests");
const kubectl = (args: readonly string[]) => run(env.kubectl, args, env.kubeconfig);

beforeAll(async () => {
  const crd = await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(root, CRD_FILE)]);
  expect(crd.stderr).toBe("");
  await crdEstablished(env, "messagingclusters.messaging.parley.io");
  const created = await kubectl(["create", "namespace", namespace]);
  expect(created.code, created.stderr).toBe(0);
});

afterAll(async () => {
  await kubectl(["delete", "namespace", namespace, "--wait=false"]);
});

describe("hand-applied manifests", () => {
  it.each(MANIFESTS)("%s passes a server-side dry run", async (path) => {
    const result = await kubectl(["apply", "--dry-run=server", "--server-side", "--field-manager=manifests-test", "-n", namespace, "-f", join(root, path)]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/server dry run/);
  });
});
