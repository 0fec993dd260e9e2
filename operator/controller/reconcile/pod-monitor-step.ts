import { FIELD_MANAGER, ownerReference, standardLabels, type ClusterView } from "../../builders/cluster.js";
import { KubeError, type KubeApi, type ResourceRef } from "../../kube/kube-api.js";
import type { EventRecorder } from "../events.js";
import { CONTINUE, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

/** The Prometheus Operator's PodMonitor resource (its CRD may well be missing). */
export const POD_MONITORS = { apiVersion: "monitoring.coreos.com/v1", plural: "podmonitors" } as const;

const CONDITION = "PodMonitorReady";

/** The PodMonitor of a cluster: every pod of it, on the http port every parley process serves /metrics on. */
export function buildPodMonitor(view: ClusterView): Record<string, unknown> {
  const { interval, labels } = view.spec.monitoring.podMonitor;
  return {
    apiVersion: POD_MONITORS.apiVersion,
    kind: "PodMonitor",
    metadata: {
      name: podMonitorName(view),
      namespace: view.namespace,
      labels: { ...labels, ...standardLabels(view, "monitoring") },
      ownerReferences: [ownerReference(view)],
    },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": "parley", "app.kubernetes.io/instance": view.name } },
      // The dashboard and alerts group by service and by MessagingCluster.
      podTargetLabels: ["app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/instance"],
      podMetricsEndpoints: [{ port: "http", path: "/metrics", ...(interval === undefined ? {} : { interval }) }],
    },
  };
}

export function podMonitorName(view: ClusterView): string {
  return `${view.name}-parley`;
}

/**
 * spec.monitoring.podMonitor: applies the cluster's PodMonitor when asked and deletes it
 * when no longer asked. The Prometheus Operator is optional, so nothing here stops the
 * reconcile: a missing CRD (or a refusal) goes to the PodMonitorReady condition, and the
 * next resync tries again (so CRDs installed later are picked up within the resync).
 */
export class PodMonitorStep implements ReconcileStep {
  readonly name = "pod-monitor";

  /**
   * @param deps.resource the PodMonitor resource; tests name a group of their own, since a
   * CRD is cluster-wide and other tests share the API server (default: POD_MONITORS).
   */
  constructor(private readonly deps: { kube: KubeApi; events: EventRecorder; resource?: { apiVersion: string; plural: string } }) {}

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const resource = this.deps.resource ?? POD_MONITORS;
    const ref: ResourceRef = { ...resource, namespace: ctx.view.namespace, name: podMonitorName(ctx.view) };
    if (!ctx.view.spec.monitoring.podMonitor.enabled) {
      // Only a cluster that had one (the condition remembers) can have a PodMonitor to remove.
      if (ctx.conditions().some((c) => c.type === CONDITION)) {
        await this.deps.kube.delete(ref).catch((error: unknown) => {
          if (!isMissingKind(error)) throw error;
        });
        ctx.status.conditions = ctx.conditions().filter((c) => c.type !== CONDITION);
      }
      return CONTINUE;
    }
    try {
      const { created } = await this.deps.kube.apply(ref, { ...buildPodMonitor(ctx.view), apiVersion: resource.apiVersion }, { fieldManager: FIELD_MANAGER, force: true });
      if (created) this.deps.events.record(ctx.cluster, "Normal", "Created", `created PodMonitor ${ref.name ?? ""}`);
      ctx.setCondition({ type: CONDITION, status: "True", reason: "Applied", message: `PodMonitor ${ref.name ?? ""} scrapes every pod of the cluster` });
    } catch (error) {
      ctx.setCondition(
        isMissingKind(error)
          ? {
              type: CONDITION,
              status: "False",
              reason: "PrometheusOperatorMissing",
              message: `spec.monitoring.podMonitor is enabled but the API server serves no ${resource.apiVersion} PodMonitor: install the Prometheus Operator's CRDs (the pods keep their prometheus.io/* annotations)`,
            }
          : { type: CONDITION, status: "False", reason: "ApplyFailed", message: `could not apply PodMonitor ${ref.name ?? ""}: ${error instanceof Error ? error.message : String(error)}` },
      );
    }
    return CONTINUE;
  }
}

/** The API server does not know the resource (its CRD is not installed): 404 on the collection. */
function isMissingKind(error: unknown): boolean {
  return error instanceof KubeError && error.status === 404;
}
