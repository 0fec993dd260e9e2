import { selectorString } from "../../builders/cluster.js";
import type { ScalingSnapshot } from "../gateway-scaling.js";
import { CONTINUE, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

/**
 * status.gateway: what the scale subresource reads (the gateway pods that exist and
 * their selector, for `kubectl scale` and a HorizontalPodAutoscaler) and the autoscaler
 * loop's latest reading (GatewayScaling in gateway-scaling.ts decides and scales; this
 * step only shows what it saw).
 */
export class AutoscalingStep implements ReconcileStep {
  readonly name = "autoscaling";

  constructor(private readonly deps: { scaling?: (uid: string) => ScalingSnapshot | undefined }) {}

  run(ctx: ReconcileContext): Promise<StepResult> {
    const scaling = this.deps.scaling?.(ctx.view.uid);
    ctx.status.gateway = {
      ...ctx.cluster.status?.gateway,
      replicas: ctx.deployments.get("gateway")?.status?.replicas ?? 0,
      selector: selectorString(ctx.view, "gateway"),
      ...(scaling?.connections === undefined ? {} : { connections: scaling.connections }),
      ...(scaling?.desiredReplicas === undefined ? {} : { desiredReplicas: scaling.desiredReplicas }),
      ...(scaling?.lastScaleTime === undefined ? {} : { lastScaleTime: scaling.lastScaleTime }),
    };
    return Promise.resolve(CONTINUE);
  }
}
