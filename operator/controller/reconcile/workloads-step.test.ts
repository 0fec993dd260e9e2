import { describe, expect, it } from "vitest";
import { desiredObjects } from "../../builders/objects.js";
import { RESOURCES } from "../../kube/kube-api.js";
import type { Deployment } from "../../kube/types.js";
import { stepHarness } from "../../testing/step-harness.js";
import type { ReconcileContext } from "./step.js";
import { WorkloadsStep } from "./workloads-step.js";

const gatewayRef = { ...RESOURCES.deployments, namespace: "team", name: "demo-gateway" };

function backendsUp(ctx: ReconcileContext, failing?: "kafka"): ReconcileContext {
  for (const backend of ["kafka", "cassandra", "storage"] as const) ctx.backends[backend] = { ok: backend !== failing, reason: "", message: "" };
  return ctx;
}

function setup(status?: { schemaVersion: number }, cachedDeployment?: (namespace: string, name: string) => Deployment | undefined) {
  const harness = stepHarness(undefined, status);
  const step = new WorkloadsStep({ kube: harness.kube, events: harness.events, logger: harness.logger, ...(cachedDeployment ? { cachedDeployment } : {}) });
  return { ...harness, step };
}

describe("WorkloadsStep", () => {
  it("applies every child object once the back ends are set up, and reports each service's rollout", async () => {
    const { step, kube, events, context } = setup();
    const ctx = backendsUp(context());
    await step.run(ctx);
    expect(kube.object(gatewayRef)).toBeDefined();
    expect(kube.object({ ...RESOURCES.configMaps, namespace: "team", name: "demo-config" })).toBeDefined();
    expect(events.reasons().filter((r) => r === "Created")).toHaveLength(desiredObjects(ctx.view).length);
    expect(ctx.rollouts.map((r) => [r.service, r.done])).toEqual([
      ["gateway", false],
      ["chat", false],
      ["groups", false],
      ["presence", false],
      ["assets", false],
    ]);
    expect(ctx.status.readyReplicas).toEqual({ gateway: 0, chat: 0, groups: 0, presence: 0, assets: 0 });
  });

  it("creates no workload before the back ends have been set up once", async () => {
    const { step, kube, context } = setup();
    const ctx = backendsUp(context(), "kafka");
    await step.run(ctx);
    expect(kube.object(gatewayRef)).toBeUndefined();
    expect(ctx.rollouts[0]).toMatchObject({ service: "gateway", done: false, message: "Deployment not created yet" });
  });

  it("keeps applying the workloads through a back-end outage once the cluster was set up", async () => {
    const { step, kube, context } = setup({ schemaVersion: 3 });
    await step.run(backendsUp(context(), "kafka"));
    expect(kube.object(gatewayRef)).toBeDefined();
  });

  it("reapplying an unchanged spec writes nothing and records no Update", async () => {
    const { step, kube, events, context } = setup();
    await step.run(backendsUp(context()));
    const writes = kube.writes.length;
    await step.run(backendsUp(context()));
    expect(kube.writes.slice(writes)).toEqual([]);
    expect(events.reasons()).not.toContain("Updated");
  });

  it("reads the Deployments from the informer cache while it applies nothing", async () => {
    const cached = { metadata: { name: "demo-gateway", generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, readyReplicas: 1 } } as Deployment;
    const { step, context } = setup(undefined, (_namespace, name) => (name === "demo-gateway" ? cached : undefined));
    const ctx = backendsUp(context(), "kafka");
    await step.run(ctx);
    expect(ctx.deployments.get("gateway")).toBe(cached);
    expect(ctx.status.readyReplicas?.gateway).toBe(1);
  });
});
