import type { Condition, MessagingClusterStatus } from "../api/v1alpha1/messagingcluster.js";
import { canonicalJson } from "../builders/environment.js";

export const CONDITION_TYPES = ["Ready", "Progressing", "Degraded", "KafkaReady", "CassandraReady", "StorageReady", "PodMonitorReady"] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface ConditionUpdate {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/**
 * Sets a condition in a list (metav1.Condition rules): lastTransitionTime changes only
 * when the status does, so writing the same condition again changes nothing.
 */
export function setCondition(conditions: Condition[], update: ConditionUpdate, generation: number, now: Date): Condition[] {
  const existing = conditions.find((c) => c.type === update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    observedGeneration: generation,
    lastTransitionTime: existing && existing.status === update.status ? existing.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    reason: update.reason,
    message: update.message.slice(0, 32768),
  };
  const others = conditions.filter((c) => c.type !== update.type);
  return [...others, next].sort((a, b) => order(a.type) - order(b.type));
}

function order(type: string): number {
  const index = (CONDITION_TYPES as readonly string[]).indexOf(type);
  return index === -1 ? CONDITION_TYPES.length : index;
}

export function conditionOf(status: MessagingClusterStatus | undefined, type: ConditionType): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function isTrue(status: MessagingClusterStatus | undefined, type: ConditionType): boolean {
  return conditionOf(status, type)?.status === "True";
}

/** Whether two statuses differ (key order and undefined fields do not count). */
export function statusChanged(before: MessagingClusterStatus | undefined, after: MessagingClusterStatus): boolean {
  return canonicalJson(before ?? {}) !== canonicalJson(after);
}
