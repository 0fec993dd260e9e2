/**
 * Cassandra keyspace replication, and its one text form (PARLEY_CASSANDRA_REPLICATION):
 * "3" for SimpleStrategy with 3 copies, "dc1:3,dc2:3" for NetworkTopologyStrategy.
 * The operator formats, `parley serve` parses; both through here.
 */
export type Replication =
  /** One data centre (and tests): `replicationFactor` copies. */
  | { class: "SimpleStrategy"; replicationFactor: number }
  /** Production: copies per data centre, e.g. `{ dc1: 3, dc2: 3 }`. */
  | { class: "NetworkTopologyStrategy"; dataCenters: Readonly<Record<string, number>> };

export class ReplicationFormatError extends Error {}

export function formatReplication(replication: Replication): string {
  if (replication.class === "SimpleStrategy") return String(replication.replicationFactor);
  return Object.entries(replication.dataCenters)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([dc, factor]) => `${dc}:${factor}`)
    .join(",");
}

/** Throws ReplicationFormatError naming what is wrong. */
export function parseReplication(text: string): Replication {
  const trimmed = text.trim();
  if (/^[1-9]\d*$/.test(trimmed)) return { class: "SimpleStrategy", replicationFactor: Number(trimmed) };
  const dataCenters: Record<string, number> = {};
  for (const entry of trimmed.split(",")) {
    const match = /^([A-Za-z0-9_.-]+):([1-9]\d*)$/.exec(entry.trim());
    if (!match?.[1] || !match[2]) {
      throw new ReplicationFormatError(`invalid replication ${JSON.stringify(text)}: a factor (3) or dc:factor pairs (dc1:3,dc2:3)`);
    }
    dataCenters[match[1]] = Number(match[2]);
  }
  return { class: "NetworkTopologyStrategy", dataCenters };
}
