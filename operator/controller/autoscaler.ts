/**
 * Gateway autoscaling decisions, free of I/O.
 *
 * recommendation = clamp(ceil(total connections / target per pod), min, max)
 *
 * Scaling up follows the recommendation at once (clients are already waiting for room).
 * Scaling down takes the highest recommendation of the last `scaleDownStabilizationSeconds`
 * (as the HorizontalPodAutoscaler does), so a dip, a reconnect storm after a rollout or a
 * flapping count does not remove gateways only to add them again.
 */
export interface AutoscalingPolicy {
  minReplicas: number;
  maxReplicas: number;
  targetConnectionsPerPod: number;
  scaleDownStabilizationSeconds: number;
}

export function recommendReplicas(totalConnections: number, policy: AutoscalingPolicy): number {
  const raw = Math.ceil(Math.max(0, totalConnections) / policy.targetConnectionsPerPod);
  return Math.min(policy.maxReplicas, Math.max(policy.minReplicas, raw));
}

export interface ScalingDecision {
  /** What spec.gateway.replicas should become. */
  desired: number;
  /** The recommendation from this reading alone. */
  recommendation: number;
  /** Why desired differs from the recommendation or from current (for events and logs). */
  reason: "ScaleUp" | "ScaleDown" | "Steady" | "ScaleDownStabilized";
}

export class GatewayAutoscaler {
  private history: { at: number; replicas: number }[] = [];
  private seeded = false;

  decide(nowMs: number, totalConnections: number, current: number, policy: AutoscalingPolicy): ScalingDecision {
    const recommendation = recommendReplicas(totalConnections, policy);
    const windowMs = policy.scaleDownStabilizationSeconds * 1000;
    // A new autoscaler (operator restarted, leadership moved) treats the current count as
    // recommended just now, so it does not scale down before it has watched a full window.
    if (!this.seeded) {
      this.seeded = true;
      this.history.push({ at: nowMs, replicas: current });
    }
    this.history = this.history.filter((entry) => entry.at > nowMs - windowMs);
    this.history.push({ at: nowMs, replicas: recommendation });
    if (recommendation > current) return { desired: recommendation, recommendation, reason: "ScaleUp" };
    if (recommendation === current) return { desired: current, recommendation, reason: "Steady" };
    const stabilized = Math.min(current, Math.max(...this.history.map((entry) => entry.replicas)));
    return { desired: stabilized, recommendation, reason: stabilized === recommendation ? "ScaleDown" : "ScaleDownStabilized" };
  }

  /** Recommendations still inside the window (for tests and status). */
  get recommendations(): readonly { at: number; replicas: number }[] {
    return this.history;
  }
}
