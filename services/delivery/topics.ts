import type { GroupId } from "../protocol/ids.js";

/**
 * Bus topic names. Every topic starts with `parley.<cluster>.` so several clusters can
 * share one Kafka and the operator can find (and clean up) exactly its own topics.
 */
export function topicPrefix(clusterName: string): string {
  return `parley.${clusterName}.`;
}

/** Connects, disconnects, heartbeats, typing, sends and reads, keyed by user. */
export function activityTopic(clusterName: string): string {
  return `${topicPrefix(clusterName)}activity`;
}

/** Notification requests for offline users, for the push-provider webhook. */
export function notificationTopic(clusterName: string): string {
  return `${topicPrefix(clusterName)}notifications`;
}

/** One topic per group: its stored messages, in order, for the fan-out consumers. */
export function groupTopic(clusterName: string, groupId: GroupId): string {
  return `${groupTopicPrefix(clusterName)}${groupId}`;
}

export function groupTopicPrefix(clusterName: string): string {
  return `${topicPrefix(clusterName)}group.`;
}
