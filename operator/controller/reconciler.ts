import type { Logger } from "../../services/runtime/logger.js";
import type { MessagingCluster } from "../api/v1alpha1/messagingcluster.js";
import type { ExternalState } from "../external/external-state.js";
import { RESOURCES, type KubeApi } from "../kube/kube-api.js";
import type { Deployment } from "../kube/types.js";
import type { EventRecorder } from "./events.js";
import type { ScalingSnapshot } from "./gateway-scaling.js";
import type { OperatorMetrics } from "./metrics.js";
import { AutoscalingStep } from "./reconcile/autoscaling-step.js";
import { BucketStep } from "./reconcile/bucket-step.js";
import { CassandraSchemaStep } from "./reconcile/cassandra-schema-step.js";
import { ClusterSecrets } from "./reconcile/cluster-secrets.js";
import { FinalizerStep } from "./reconcile/finalizer-step.js";
import { KafkaTopicsStep } from "./reconcile/kafka-topics-step.js";
import { MetricsStep } from "./reconcile/metrics-step.js";
import { PodMonitorStep } from "./reconcile/pod-monitor-step.js";
import { SecretsStep } from "./reconcile/secrets-step.js";
import { SpecStep } from "./reconcile/spec-step.js";
import { StatusStep } from "./reconcile/status-step.js";
import { concurrently, ReconcileContext, type ReconcileResult, type ReconcileStep } from "./reconcile/step.js";
import { WorkloadsStep } from "./reconcile/workloads-step.js";

export interface ReconcilerOptions {
  kube: KubeApi;
  external: ExternalState;
  events: EventRecorder;
  logger: Logger;
  /** A Deployment from the informer cache, if the caller has one. */
  cachedDeployment?: (namespace: string, name: string) => Deployment | undefined;
  /** The autoscaler's latest reading of a cluster (by uid). */
  scaling?: (uid: string) => ScalingSnapshot | undefined;
  /** Where the per-cluster gauges go (parley_operator_ready_replicas); omit for none. */
  metrics?: OperatorMetrics;
  /** How often back-end state is checked again when nothing changed (default 10 min). */
  externalResyncMs?: number;
  now?: () => Date;
}

/**
 * Brings one MessagingCluster's world in line with its spec, from scratch each time
 * (level-triggered), as a list of steps, one per concern (operator/controller/reconcile/).
 * Running it again with nothing changed writes nothing.
 */
export class Reconciler {
  private readonly steps: readonly ReconcileStep[];
  private readonly now: () => Date;

  constructor(private readonly options: ReconcilerOptions) {
    const { kube, external, events, logger } = options;
    const resyncMs = options.externalResyncMs ?? 600_000;
    const secrets = new ClusterSecrets(kube);
    this.now = options.now ?? (() => new Date());
    this.steps = [
      new FinalizerStep({ kube, external, events, secrets }),
      new SpecStep({ kube, events }),
      new SecretsStep(secrets),
      concurrently("backends", [
        new KafkaTopicsStep({ external, events, resyncMs }),
        new CassandraSchemaStep({ external, events, resyncMs }),
        new BucketStep({ external, events, resyncMs }),
      ]),
      new WorkloadsStep({ kube, events, logger, ...(options.cachedDeployment === undefined ? {} : { cachedDeployment: options.cachedDeployment }) }),
      new AutoscalingStep(options.scaling === undefined ? {} : { scaling: options.scaling }),
      new PodMonitorStep({ kube, events }),
      ...(options.metrics === undefined ? [] : [new MetricsStep(options.metrics)]),
      new StatusStep({ kube, resyncMs }),
    ];
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const cluster = await this.options.kube.get<MessagingCluster>({ ...RESOURCES.messagingClusters, namespace, name });
    if (cluster === undefined) return {};
    const ctx = new ReconcileContext(cluster, this.now());
    for (const step of this.steps) {
      const outcome = await step.run(ctx);
      if (outcome.outcome === "done") {
        if (outcome.released === true) this.forget(ctx.view.uid);
        return outcome.result;
      }
    }
    // The status step always ends the reconcile; a list without it asks for no requeue.
    return {};
  }

  /** The cluster is gone from the API: drop what the steps kept for it. */
  forget(uid: string): void {
    for (const step of this.steps) step.forget?.(uid);
  }
}
