import { describe, expect, it, vi } from "vitest";
import { FINALIZER } from "../../api/v1alpha1/messagingcluster.js";
import { RESOURCES } from "../../kube/kube-api.js";
import { defaultedSpec } from "../../testing/fixtures.js";
import { clusterRef, stepHarness } from "../../testing/step-harness.js";
import { ClusterSecrets } from "./cluster-secrets.js";
import { FinalizerStep } from "./finalizer-step.js";

function setup(spec = defaultedSpec()) {
  const harness = stepHarness(spec);
  const secrets = new ClusterSecrets(harness.kube);
  const step = new FinalizerStep({ kube: harness.kube, external: harness.external, events: harness.events, secrets });
  return { ...harness, step, secrets };
}

describe("FinalizerStep", () => {
  it("adds the finalizer to a live cluster once, after finalizers others put there", async () => {
    const { step, kube, context, stored } = setup();
    await kube.mergePatch(clusterRef, { metadata: { finalizers: ["someone/else"] } });
    await expect(step.run(context())).resolves.toEqual({ outcome: "continue" });
    expect(stored().metadata.finalizers).toEqual(["someone/else", FINALIZER]);
    const writes = kube.writes.length;
    await step.run(context());
    expect(kube.writes.length).toBe(writes);
  });

  it("on deletion with Retain keeps the data, removes the finalizer and ends the reconcile, releasing the cluster", async () => {
    const { step, kube, external, events, context } = setup();
    await step.run(context());
    await kube.delete(clusterRef);
    await expect(step.run(context())).resolves.toEqual({ outcome: "done", result: {}, released: true });
    expect(external.calls).toEqual([]);
    expect(events.reasons()).toEqual(["DataRetained"]);
    expect(kube.object(clusterRef)).toBeUndefined();
  });

  it("on deletion with Delete keeps the finalizer and retries while the cleanup fails", async () => {
    const { step, kube, external, events, context, stored } = setup(defaultedSpec({ reclaimPolicy: "Delete" }));
    await step.run(context());
    await kube.delete(clusterRef);
    vi.spyOn(external, "deleteTopics").mockRejectedValueOnce(new Error("broker down"));
    await expect(step.run(context())).rejects.toThrow("broker down");
    expect(events.events.at(-1)).toMatchObject({ type: "Warning", reason: "CleanupFailed", message: "reclaimPolicy Delete: broker down (retrying)" });
    expect(stored().metadata.finalizers).toEqual([FINALIZER]);
    await step.run(context());
    expect(kube.object(clusterRef)).toBeUndefined();
  });

  it("on deletion with Delete whose Cassandra login Secret is gone keeps the keyspace rather than block", async () => {
    const cassandra = { ...defaultedSpec().cassandra, username: { secretKeyRef: { name: "creds", key: "access" } }, password: { secretKeyRef: { name: "creds", key: "secret" } } };
    const { step, kube, external, events, context } = setup(defaultedSpec({ reclaimPolicy: "Delete", cassandra }));
    external.keyspaces.set("parley", 3);
    await step.run(context());
    await kube.delete(clusterRef);
    await kube.delete({ ...RESOURCES.secrets, namespace: "team", name: "creds" });
    await step.run(context());
    expect(external.keyspaces.get("parley")).toBe(3);
    expect(events.reasons()).toEqual(expect.arrayContaining(["TopicsDeleted", "KeyspaceKept", "BucketKept"]));
    expect(kube.object(clusterRef)).toBeUndefined();
  });
});
