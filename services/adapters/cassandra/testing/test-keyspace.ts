import { randomBytes } from "node:crypto";
import type { Client } from "cassandra-driver";
import { infraEndpoint } from "../../../testing/infra.js";
import { connectCassandra, type CassandraOptions } from "../cassandra-options.js";

/**
 * For tests: the local test node started by `hack/infra.sh up`, and keyspaces with unique
 * names (dropped by the test that made them), so runs never see each other's data.
 */
export function testCassandraOptions(prefix: string, overrides: Partial<CassandraOptions> = {}): CassandraOptions {
  return {
    contactPoints: infraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS").split(","),
    localDataCenter: infraEndpoint("PARLEY_TEST_CASSANDRA_DC"),
    keyspace: uniqueKeyspace(prefix),
    replication: { class: "SimpleStrategy", replicationFactor: 1 },
    ...overrides,
  };
}

export function uniqueKeyspace(prefix: string): string {
  return `t_${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/** A client for a test's own statements (creating and dropping keyspaces, inspecting rows). */
export function connectTestClient(): Promise<Client> {
  return connectCassandra({
    contactPoints: infraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS").split(","),
    localDataCenter: infraEndpoint("PARLEY_TEST_CASSANDRA_DC"),
  });
}

export async function dropKeyspace(client: Client, keyspace: string): Promise<void> {
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
}
