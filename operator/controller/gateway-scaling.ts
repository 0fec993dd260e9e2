import type { Logger } from "../../services/runtime/logger.js";
import type { MessagingCluster } from "../api/v1alpha1/messagingcluster.js";
import { viewOf } from "../builders/cluster.js";
import type { ConnectionSource } from "../external/connection-source.js";
import type { Credentials } from "../external/external-state.js";
import { RESOURCES, type KubeApi } from "../kube/kube-api.js";
import { GatewayAutoscaler, type ScalingDecision } from "./autoscaler.js";
import type { EventRecorder } from "./events.js";
import { messageOf } from "./reconcile/errors.js";

/** What the autoscaler last saw and did for a cluster (the reconcile shows it in status.gateway). */
export interface ScalingSnapshot {
  connections?: number;
  desiredReplicas?: number;
  lastScaleTime?: string;
}

export interface GatewayScalingOptions {
  kube: KubeApi;
  connections: ConnectionSource;
  events: EventRecorder;
  logger: Logger;
  now?: () => number;
}

export interface PollResult {
  connections?: number;
  decision?: ScalingDecision;
  /** spec.gateway.replicas was changed (through the scale subresource). */
  scaled: boolean;
  /** The connection count differs from the previous poll (status should be written). */
  changed: boolean;
}

/**
 * Reads each cluster's live connections from its registry and, where autoscaling is on,
 * sets spec.gateway.replicas through the scale subresource (so `kubectl scale` and an
 * external HorizontalPodAutoscaler use the same path). The reconcile that this change
 * triggers resizes the gateway Deployment.
 */
export class GatewayScaling {
  private readonly state = new Map<string, { autoscaler: GatewayAutoscaler; snapshot: ScalingSnapshot; warned?: string }>();
  private readonly now: () => number;

  constructor(private readonly options: GatewayScalingOptions) {
    this.now = options.now ?? Date.now;
  }

  snapshot(uid: string): ScalingSnapshot | undefined {
    return this.state.get(uid)?.snapshot;
  }

  async forget(uid: string): Promise<void> {
    this.state.delete(uid);
    await this.options.connections.forget(uid);
  }

  async poll(cluster: MessagingCluster): Promise<PollResult> {
    const view = viewOf(cluster);
    let entry = this.state.get(view.uid);
    if (entry === undefined) {
      entry = { autoscaler: new GatewayAutoscaler(), snapshot: {} };
      this.state.set(view.uid, entry);
    }
    let total: number;
    try {
      const perGateway = await this.options.connections.connectionsPerGateway(view, await this.redisCredentials(cluster));
      total = [...perGateway.values()].reduce((sum, n) => sum + n, 0);
      entry.warned = undefined;
    } catch (error) {
      const message = `reading connections from Redis failed: ${messageOf(error)}`;
      if (entry.warned !== message) this.options.events.record(cluster, "Warning", "ConnectionsUnavailable", `${message}; gateways keep their count`);
      entry.warned = message;
      return { scaled: false, changed: false };
    }
    const changed = entry.snapshot.connections !== total;
    entry.snapshot = { ...entry.snapshot, connections: total };

    const { autoscaling, replicas } = cluster.spec.gateway;
    if (!autoscaling.enabled) return { connections: total, scaled: false, changed };
    const decision = entry.autoscaler.decide(this.now(), total, replicas, autoscaling);
    const desiredChanged = entry.snapshot.desiredReplicas !== decision.desired;
    entry.snapshot = { ...entry.snapshot, desiredReplicas: decision.desired };
    if (decision.desired === replicas) return { connections: total, decision, scaled: false, changed: changed || desiredChanged };

    await this.options.kube.mergePatch(
      { ...RESOURCES.messagingClusters, namespace: view.namespace, name: view.name, subresource: "scale" },
      { spec: { replicas: decision.desired } },
    );
    entry.snapshot = { ...entry.snapshot, lastScaleTime: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, "Z") };
    this.options.events.record(
      cluster,
      "Normal",
      "ScaledGateways",
      `gateways ${replicas} -> ${decision.desired}: ${total} connections, target ${autoscaling.targetConnectionsPerPod} per pod (${decision.reason})`,
    );
    return { connections: total, decision, scaled: true, changed: true };
  }

  private async redisCredentials(cluster: MessagingCluster): Promise<Credentials> {
    const ref = cluster.spec.redis.password;
    if (ref === undefined) return {};
    const secret = await this.options.kube.get<{ data?: Record<string, string> }>({
      ...RESOURCES.secrets,
      namespace: cluster.metadata.namespace,
      name: ref.secretKeyRef.name,
    });
    const encoded = secret?.data?.[ref.secretKeyRef.key];
    if (encoded === undefined) throw new Error(`Secret ${ref.secretKeyRef.name} (key ${ref.secretKeyRef.key}) not found`);
    return { redisPassword: Buffer.from(encoded, "base64").toString("utf8") };
  }
}
