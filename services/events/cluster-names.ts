/**
 * How a cluster's shared resources are named: every Kafka topic and consumer group
 * starts with `parley.<cluster>.`, every Redis key and channel with `parley:<cluster>:`.
 * Several clusters can so share one Kafka and one Redis, and the operator finds (and
 * cleans up) exactly its own. The services and the operator both name through here.
 */
const NAMESPACE = "parley";

export function topicPrefix(clusterName: string): string {
  return `${NAMESPACE}.${clusterName}.`;
}

export function redisKeyPrefix(clusterName: string): string {
  return `${NAMESPACE}:${clusterName}:`;
}

/** The cluster name inside a topic prefix (`parley.<cluster>.`), or null when it is not one. */
export function clusterNameOfTopicPrefix(prefix: string): string | null {
  const head = `${NAMESPACE}.`;
  if (!prefix.startsWith(head) || !prefix.endsWith(".") || prefix.length <= head.length + 1) return null;
  return prefix.slice(head.length, -1);
}
