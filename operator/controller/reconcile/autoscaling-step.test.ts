import { describe, expect, it } from "vitest";
import { stepHarness } from "../../testing/step-harness.js";
import { AutoscalingStep } from "./autoscaling-step.js";

describe("AutoscalingStep", () => {
  it("publishes the gateway pods and selector for the scale subresource, with the autoscaler's latest reading", async () => {
    const { context } = stepHarness();
    const ctx = context();
    ctx.deployments.set("gateway", { metadata: { name: "demo-gateway" }, status: { replicas: 3 } });
    const reading = { connections: 1234, desiredReplicas: 4, lastScaleTime: "2026-01-01T00:00:00Z" };
    await new AutoscalingStep({ scaling: (uid) => (uid === "uid-demo" ? reading : undefined) }).run(ctx);
    expect(ctx.status.gateway).toEqual({
      replicas: 3,
      selector: "app.kubernetes.io/name=parley,app.kubernetes.io/instance=demo,app.kubernetes.io/component=gateway",
      ...reading,
    });
  });

  it("keeps the last reading in status while the autoscaler has none (a restarted operator)", async () => {
    const { context } = stepHarness(undefined, { gateway: { replicas: 2, connections: 900 } });
    const ctx = context();
    await new AutoscalingStep({}).run(ctx);
    expect(ctx.status.gateway).toMatchObject({ replicas: 0, connections: 900 });
  });
});
