/**
 * Bus topic names. Every topic starts with `parley.<cluster>.` so several clusters can
 * share one Kafka and the operator can find (and clean up) exactly its own topics.
 */
export function gatewayDeliveryTopic(clusterName: string, gatewayId: string): string {
  return `parley.${clusterName}.gateway.${gatewayId}`;
}
