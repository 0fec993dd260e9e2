import { describe, expect, it } from "vitest";
import { stepHarness } from "../../testing/step-harness.js";
import { OperatorMetrics } from "../metrics.js";
import { MetricsStep } from "./metrics-step.js";

describe("MetricsStep", () => {
  it("publishes each service's ready pods per MessagingCluster, and drops the series once the cluster is gone", async () => {
    const metrics = new OperatorMetrics(false);
    const step = new MetricsStep(metrics);
    const ctx = stepHarness().context();
    ctx.status.readyReplicas = { gateway: 0, chat: 2, groups: 2, presence: 1, assets: 2 };
    await step.run(ctx);
    const text = await metrics.registry.getSingleMetricAsString("parley_operator_ready_replicas");
    expect(text).toContain('parley_operator_ready_replicas{namespace="team",name="demo",service="gateway"} 0');
    expect(text).toContain('parley_operator_ready_replicas{namespace="team",name="demo",service="presence"} 1');

    step.forget(ctx.view.uid);
    expect(await metrics.registry.getSingleMetricAsString("parley_operator_ready_replicas")).not.toContain('name="demo"');
  });
});
