import type { Client } from "cassandra-driver";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS, runMigrations, schemaVersion, type Migration } from "./migrations.js";
import { connectTestClient, dropKeyspace, uniqueKeyspace } from "./testing/test-keyspace.js";

const LATEST = Math.max(...MIGRATIONS.map((m) => m.version));
const SIMPLE = { class: "SimpleStrategy", replicationFactor: 1 } as const;

describe("Cassandra schema migrations", () => {
  let client: Client;
  const keyspaces: string[] = [];

  beforeAll(async () => {
    client = await connectTestClient();
  });

  afterEach(async () => {
    for (const keyspace of keyspaces.splice(0)) await dropKeyspace(client, keyspace);
  });

  afterAll(async () => {
    await client.shutdown();
  });

  function keyspace(): string {
    const name = uniqueKeyspace("migrations");
    keyspaces.push(name);
    return name;
  }

  async function tables(ks: string): Promise<string[]> {
    const result = await client.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", [ks], { prepare: true });
    return result.rows.map((row) => String(row.get("table_name"))).sort();
  }

  async function replicationOf(ks: string): Promise<Record<string, string>> {
    const result = await client.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", [ks], { prepare: true });
    return result.rows[0]?.get("replication") as Record<string, string>;
  }

  it("creates the keyspace and applies every migration in order, then nothing on a second run", async () => {
    const ks = keyspace();
    const first = await runMigrations(client, { keyspace: ks, replication: SIMPLE });
    expect(first).toEqual({ applied: MIGRATIONS.map((m) => m.version), version: LATEST });
    expect(await tables(ks)).toEqual(
      expect.arrayContaining(["conversations", "messages", "client_messages", "inbox", "inbox_heads", "groups", "groups_by_user", "schema_migrations"]),
    );
    expect(await replicationOf(ks)).toMatchObject({ class: "org.apache.cassandra.locator.SimpleStrategy", replication_factor: "1" });

    const second = await runMigrations(client, { keyspace: ks, replication: SIMPLE });
    expect(second).toEqual({ applied: [], version: LATEST });
    expect(await schemaVersion(client, ks)).toBe(LATEST);
  });

  it("applies only the migrations a keyspace has not recorded", async () => {
    const ks = keyspace();
    await runMigrations(client, { keyspace: ks, replication: SIMPLE });
    const next: Migration = {
      version: LATEST + 1,
      description: "a later release adds a table",
      statements: (k) => [`CREATE TABLE IF NOT EXISTS ${k}.later (id text PRIMARY KEY)`],
    };
    expect(await runMigrations(client, { keyspace: ks, replication: SIMPLE, migrations: [...MIGRATIONS, next] })).toEqual({
      applied: [LATEST + 1],
      version: LATEST + 1,
    });
    expect(await tables(ks)).toContain("later");
    // The previous release's runner sees a newer schema and leaves it alone.
    expect(await runMigrations(client, { keyspace: ks, replication: SIMPLE })).toEqual({ applied: [], version: LATEST + 1 });
  });

  it("applies each migration once when several processes run the migrations at once", async () => {
    const ks = keyspace();
    const runners = await Promise.all([connectTestClient(), connectTestClient(), connectTestClient()]);
    try {
      const results = await Promise.all(runners.map((runner) => runMigrations(runner, { keyspace: ks, replication: SIMPLE })));
      expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(results.map((r) => r.version)).toEqual([LATEST, LATEST, LATEST]);
    } finally {
      await Promise.all(runners.map((runner) => runner.shutdown()));
    }
  });

  it("creates the keyspace with the replication asked for and refuses to change it silently", async () => {
    const ks = keyspace();
    const perDataCenter = { class: "NetworkTopologyStrategy", dataCenters: { datacenter1: 1 } } as const;
    await runMigrations(client, { keyspace: ks, replication: perDataCenter });
    expect(await replicationOf(ks)).toEqual({ class: "org.apache.cassandra.locator.NetworkTopologyStrategy", datacenter1: "1" });
    await expect(runMigrations(client, { keyspace: ks, replication: SIMPLE })).rejects.toThrow(/exists with replication/);
    expect(await runMigrations(client, { keyspace: ks, replication: SIMPLE, alterReplication: true })).toEqual({ applied: [], version: LATEST });
    expect(await replicationOf(ks)).toMatchObject({ class: "org.apache.cassandra.locator.SimpleStrategy", replication_factor: "1" });
  });

  it("refuses keyspace names that are not plain identifiers", async () => {
    await expect(runMigrations(client, { keyspace: "x; DROP KEYSPACE system", replication: SIMPLE })).rejects.toThrow(/invalid keyspace name/);
  });
});
