import type { Service } from "../../api/v1alpha1/messagingcluster.js";
import type { Deployment } from "../../kube/types.js";

/** How far one service's Deployment is from running its wanted pods. */
export interface Rollout {
  service: Service;
  ready: number;
  done: boolean;
  stuck: boolean;
  message: string;
}

/** How far a Deployment is from running `desired` up-to-date, ready pods. */
export function rolloutOf(deployment: Deployment | undefined, desired: number): Omit<Rollout, "service"> {
  if (deployment === undefined) return { ready: 0, done: false, stuck: false, message: "Deployment not created yet" };
  const status = deployment.status ?? {};
  const ready = status.readyReplicas ?? 0;
  const updated = status.updatedReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const observed = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  const stuck = (status.conditions ?? []).some((c) => c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded");
  const done = observed && updated >= desired && ready >= desired && available >= desired && (status.replicas ?? 0) <= desired;
  const message = !observed
    ? "change not yet observed by the Deployment controller"
    : stuck
      ? "rollout exceeded its progress deadline"
      : `${ready}/${desired} ready, ${updated}/${desired} up to date`;
  return { ready, done, stuck, message };
}
