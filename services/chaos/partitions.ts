/**
 * Which partition of a topic a key lands on, as the producer picks it (kafkajs's default
 * partitioner, the one the Kafka bus uses): so a scenario can choose users whose requests
 * and activity reach every partition, and a killed replica, whichever partitions it
 * owned, certainly held some of them.
 */
import { Partitioners, type PartitionMetadata } from "kafkajs";

export function partitionOf(key: string, partitions: number): number {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));
  // A fresh partitioner each time: it keeps a round-robin counter, used only for messages without a key.
  return Partitioners.DefaultPartitioner()({ topic: "any", partitionMetadata, message: { key, value: null } });
}

/** Users named `<prefix><n>`, the first found for each partition in turn: one user per partition. */
export function userPerPartition(prefix: string, partitions: number): string[] {
  const users = new Array<string | undefined>(partitions).fill(undefined);
  for (let n = 0; users.includes(undefined); n++) {
    const userId = `${prefix}${String(n)}`;
    const partition = partitionOf(userId, partitions);
    users[partition] ??= userId;
    if (n > 10_000) throw new Error(`no user ${prefix}<n> for some of ${String(partitions)} partitions`);
  }
  return users as string[];
}
