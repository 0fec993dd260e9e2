import { SERVICES } from "../../api/v1alpha1/messagingcluster.js";
import type { OperatorMetrics } from "../metrics.js";
import { CONTINUE, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

/**
 * The cluster's readiness as operator metrics (parley_operator_ready_replicas per service),
 * from what the workloads step found: the "no ready gateway" alert reads it, so it needs
 * no kube-state-metrics and is labelled by MessagingCluster. Changes nothing in the cluster.
 */
export class MetricsStep implements ReconcileStep {
  readonly name = "metrics";
  /** Namespace and name per uid: the series to remove once a cluster is gone. */
  private readonly clusters = new Map<string, { namespace: string; name: string }>();

  constructor(private readonly metrics: OperatorMetrics) {}

  run(ctx: ReconcileContext): Promise<StepResult> {
    const { namespace, name, uid } = ctx.view;
    this.clusters.set(uid, { namespace, name });
    for (const service of SERVICES) this.metrics.readyReplicas.set({ namespace, name, service }, Number(ctx.status.readyReplicas?.[service] ?? 0));
    return Promise.resolve(CONTINUE);
  }

  forget(uid: string): void {
    const cluster = this.clusters.get(uid);
    if (cluster === undefined) return;
    this.clusters.delete(uid);
    for (const service of SERVICES) this.metrics.readyReplicas.remove({ ...cluster, service });
  }
}
