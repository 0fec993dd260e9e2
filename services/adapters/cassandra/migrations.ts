import { randomUUID } from "node:crypto";
import type { Client } from "cassandra-driver";
import {
  checkedKeyspace,
  connectCassandra,
  DEFAULT_REPLICATION,
  resolveConsistency,
  type CassandraConsistency,
  type CassandraOptions,
  type Replication,
} from "./cassandra-options.js";
import { intOf, textOf } from "./rows.js";

/**
 * The versioned schema of every Cassandra adapter, applied by one runner: the stores run
 * it when they open (unless told not to) and the operator runs it once per rollout.
 *
 * A migration is a list of CQL statements that are each safe to run again (IF NOT EXISTS,
 * ADD IF NOT EXISTS...), so a runner that dies halfway is finished by the next one. Applied
 * versions are recorded in `schema_migrations`. Migrations are only ever appended: never
 * edit or reorder a released one. Schema changes only add (tables, columns), so processes
 * of the previous release keep working against the newer schema during a rollout.
 */
export interface Migration {
  version: number;
  description: string;
  statements: (keyspace: string) => string[];
}

/** Rows of a conversation (messages) and of an inbox per partition: see the stores. */
export const MESSAGE_BUCKET_SIZE = 1000;
export const INBOX_BUCKET_SIZE = 1000;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "message store: conversations, messages, idempotency, inboxes, receipt marks",
    statements: (ks) => [
      // One row per conversation: the last seq handed out and, while an append is under
      // way, that append (JSON), so that anyone can finish it (see CassandraMessageStore).
      `CREATE TABLE IF NOT EXISTS ${ks}.conversations (
        conversation_id text PRIMARY KEY,
        last_seq bigint,
        pending text
      )`,
      // Messages by conversation in seq order; bucket = floor(seq / ${MESSAGE_BUCKET_SIZE}) bounds a partition.
      // inbox_cursors: where each participant's inbox event for the message landed.
      `CREATE TABLE IF NOT EXISTS ${ks}.messages (
        conversation_id text,
        bucket bigint,
        seq bigint,
        message text,
        inbox_cursors map<text, bigint>,
        PRIMARY KEY ((conversation_id, bucket), seq)
      ) WITH CLUSTERING ORDER BY (seq ASC)`,
      // Idempotency: one row per (sender, clientMessageId), claimed before a seq is taken.
      // message (JSON) is set once the append is complete.
      `CREATE TABLE IF NOT EXISTS ${ks}.client_messages (
        sender_id text,
        client_message_id text,
        conversation_id text,
        message_id text,
        body text,
        message text,
        PRIMARY KEY ((sender_id, client_message_id))
      )`,
      // The newest event of each inbox, claimed by a lightweight transaction: its cursor,
      // its id and the event itself (so that no crash leaves a gap before its row exists).
      `CREATE TABLE IF NOT EXISTS ${ks}.inbox_heads (
        user_id text PRIMARY KEY,
        last_cursor bigint,
        last_event_id text,
        last_event text
      )`,
      // Inbox events by user in cursor order; bucket = floor(cursor / ${INBOX_BUCKET_SIZE}).
      `CREATE TABLE IF NOT EXISTS ${ks}.inbox (
        user_id text,
        bucket bigint,
        cursor bigint,
        event_id text,
        event text,
        PRIMARY KEY ((user_id, bucket), cursor)
      ) WITH CLUSTERING ORDER BY (cursor ASC)`,
      // Delivered and read marks; pending: the receipt whose inbox events are being appended.
      `CREATE TABLE IF NOT EXISTS ${ks}.receipt_marks (
        conversation_id text,
        user_id text,
        kind text,
        up_to_seq bigint,
        pending text,
        PRIMARY KEY ((conversation_id, user_id), kind)
      )`,
      // Where each receipt's inbox events landed, per recipient.
      `CREATE TABLE IF NOT EXISTS ${ks}.receipt_events (
        conversation_id text,
        user_id text,
        kind text,
        up_to_seq bigint,
        inbox_cursors map<text, bigint>,
        PRIMARY KEY ((conversation_id, user_id, kind), up_to_seq)
      )`,
    ],
  },
  {
    version: 2,
    description: "group store: groups with their members, groups by user",
    statements: (ks) => [
      // A group is one partition: its fields and counters as static columns, one row per
      // member in user id order. Membership changes are conditional batches on `version`.
      `CREATE TABLE IF NOT EXISTS ${ks}.groups (
        group_id text,
        user_id text,
        role text,
        name text STATIC,
        created_by text STATIC,
        created_at timestamp STATIC,
        member_count int STATIC,
        version bigint STATIC,
        PRIMARY KEY ((group_id), user_id)
      ) WITH CLUSTERING ORDER BY (user_id ASC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.groups_by_user (
        user_id text,
        group_id text,
        name text,
        role text,
        PRIMARY KEY ((user_id), group_id)
      )`,
    ],
  },
  {
    version: 3,
    description: "user settings; asset records and where they were shared",
    statements: (ks) => [
      // One nullable column per setting: null is "never set", read as the default.
      `CREATE TABLE IF NOT EXISTS ${ks}.user_settings (
        user_id text PRIMARY KEY,
        last_seen_visibility text
      )`,
      `CREATE TABLE IF NOT EXISTS ${ks}.assets (
        asset_id text PRIMARY KEY,
        owner_id text,
        sha256 text,
        size bigint,
        content_type text,
        created_at timestamp,
        create_token text
      )`,
      `CREATE TABLE IF NOT EXISTS ${ks}.asset_shares (
        asset_id text,
        conversation_id text,
        PRIMARY KEY ((asset_id), conversation_id)
      )`,
    ],
  },
  {
    version: 4,
    description: "message store: who has sent in each direct conversation (presence contacts)",
    statements: (ks) => [
      // One row per (direct conversation, sender), written with every direct message;
      // presence reads a conversation's partition to tell whether both sides have written.
      // Not backfilled: messages stored before this migration count from the sender's
      // next message, so the rule errs on hiding.
      `CREATE TABLE IF NOT EXISTS ${ks}.direct_senders (
        conversation_id text,
        sender_id text,
        PRIMARY KEY ((conversation_id), sender_id)
      )`,
    ],
  },
];

export interface MigrationOptions {
  keyspace: string;
  /** Used when the keyspace is created. */
  replication: Replication;
  /**
   * When the keyspace exists with another replication: false (default) throws, true
   * alters it (then run a full repair, as after any replication change).
   */
  alterReplication?: boolean;
  consistency?: CassandraConsistency;
  /** Defaults to MIGRATIONS; tests pass their own lists. */
  migrations?: readonly Migration[];
  /** How long to wait for another runner's lock (default 120 s). */
  lockTimeoutMs?: number;
}

export interface MigrationResult {
  /** Versions this call applied, in order (empty when the schema was current). */
  applied: number[];
  /** The highest version recorded in the keyspace after this call. */
  version: number;
}

const LOCK_TTL_SECONDS = 60;

/**
 * Creates the keyspace if needed and applies the migrations it has not recorded, in
 * version order, holding a lock row (a lightweight transaction with a TTL) so that
 * runners on several processes do not change the schema concurrently (concurrent DDL
 * can leave nodes disagreeing on a table's id).
 */
export async function runMigrations(client: Client, options: MigrationOptions): Promise<MigrationResult> {
  const ks = checkedKeyspace(options.keyspace);
  const consistency = resolveConsistency(options.consistency);
  const migrations = [...(options.migrations ?? MIGRATIONS)].sort((a, b) => a.version - b.version);
  for (const [i, migration] of migrations.entries()) {
    if (!Number.isInteger(migration.version) || migration.version < 1 || migration.version === migrations[i - 1]?.version) {
      throw new Error(`migration versions must be distinct positive integers (got ${migration.version})`);
    }
  }
  await ensureKeyspace(client, ks, options.replication, options.alterReplication ?? false);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${ks}.schema_migrations (version int PRIMARY KEY, description text, applied_at timestamp)`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${ks}.schema_migration_lock (name text PRIMARY KEY, owner text)`);

  const owner = randomUUID();
  await acquireLock(client, ks, owner, consistency, options.lockTimeoutMs ?? 120_000);
  try {
    const recorded = await client.execute(`SELECT version FROM ${ks}.schema_migrations`, [], { consistency: consistency.serial });
    const done = new Set(recorded.rows.map((row) => intOf(row, "version")));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      // The driver waits for the nodes to agree on the schema after each change.
      for (const statement of migration.statements(ks)) await client.execute(statement);
      await client.execute(
        `INSERT INTO ${ks}.schema_migrations (version, description, applied_at) VALUES (?, ?, ?)`,
        [migration.version, migration.description, new Date()],
        { prepare: true, consistency: consistency.write },
      );
      done.add(migration.version);
      applied.push(migration.version);
    }
    return { applied, version: Math.max(0, ...done) };
  } finally {
    await client
      .execute(`DELETE FROM ${ks}.schema_migration_lock WHERE name = 'schema' IF owner = ?`, [owner], {
        prepare: true,
        consistency: consistency.write,
        serialConsistency: consistency.serial,
      })
      .catch(() => undefined); // the TTL frees it anyway
  }
}

/**
 * What the stores' `open` does: connects and, unless `migrate: false`, brings the schema
 * up to date (creating the keyspace with `replication`, default SimpleStrategy 1).
 */
export async function connectAndMigrate(options: CassandraOptions): Promise<Client> {
  checkedKeyspace(options.keyspace);
  const client = await connectCassandra(options);
  try {
    if (options.migrate ?? true) {
      await runMigrations(client, {
        keyspace: options.keyspace,
        replication: options.replication ?? DEFAULT_REPLICATION,
        ...(options.consistency ? { consistency: options.consistency } : {}),
      });
    }
    return client;
  } catch (error) {
    await client.shutdown();
    throw error;
  }
}

/** The highest migration version recorded in a keyspace (0 when none). */
export async function schemaVersion(client: Client, keyspace: string): Promise<number> {
  const ks = checkedKeyspace(keyspace);
  const result = await client.execute(`SELECT version FROM ${ks}.schema_migrations`);
  return Math.max(0, ...result.rows.map((row) => intOf(row, "version")));
}

function replicationMap(replication: Replication): Record<string, string> {
  if (replication.class === "SimpleStrategy") {
    checkFactor(replication.replicationFactor);
    return { class: "org.apache.cassandra.locator.SimpleStrategy", replication_factor: String(replication.replicationFactor) };
  }
  const map: Record<string, string> = { class: "org.apache.cassandra.locator.NetworkTopologyStrategy" };
  const entries = Object.entries(replication.dataCenters);
  if (entries.length === 0) throw new Error("NetworkTopologyStrategy needs at least one data centre");
  for (const [dataCenter, factor] of entries) {
    if (!/^[A-Za-z0-9_.-]+$/.test(dataCenter)) throw new Error(`invalid data centre name ${JSON.stringify(dataCenter)}`);
    checkFactor(factor);
    map[dataCenter] = String(factor);
  }
  return map;
}

function checkFactor(factor: number): void {
  if (!Number.isInteger(factor) || factor < 1 || factor > 99) throw new Error(`invalid replication factor ${factor}`);
}

function replicationCql(map: Record<string, string>): string {
  return `{${Object.entries(map)
    .map(([key, value]) => `'${key}': '${value}'`)
    .join(", ")}}`;
}

async function ensureKeyspace(client: Client, ks: string, replication: Replication, alter: boolean): Promise<void> {
  const wanted = replicationMap(replication);
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ${replicationCql(wanted)} AND durable_writes = true`);
  const result = await client.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", [ks], { prepare: true });
  const current: unknown = result.rows[0]?.get("replication");
  const actual = (current ?? {}) as Record<string, string>;
  const same =
    Object.keys(actual).length === Object.keys(wanted).length &&
    Object.entries(wanted).every(([key, value]) => (key === "class" ? actual[key]?.endsWith(value.split(".").at(-1) ?? value) : actual[key] === value));
  if (same) return;
  if (!alter) {
    throw new Error(
      `keyspace ${ks} exists with replication ${JSON.stringify(actual)}, not ${JSON.stringify(wanted)}; ` +
        "pass alterReplication to change it (and run a full repair afterwards)",
    );
  }
  await client.execute(`ALTER KEYSPACE ${ks} WITH replication = ${replicationCql(wanted)}`);
}

async function acquireLock(
  client: Client,
  ks: string,
  owner: string,
  consistency: ReturnType<typeof resolveConsistency>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let holder = "";
  while (Date.now() < deadline) {
    const result = await client.execute(
      `INSERT INTO ${ks}.schema_migration_lock (name, owner) VALUES ('schema', ?) IF NOT EXISTS USING TTL ${LOCK_TTL_SECONDS}`,
      [owner],
      { prepare: true, consistency: consistency.write, serialConsistency: consistency.serial },
    );
    if (result.wasApplied()) return;
    const row = result.rows[0];
    holder = row ? textOf(row, "owner") : "";
    // Another runner is migrating: poll until it releases the lock (or its TTL frees it).
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for the schema migration lock of ${ks} (held by runner ${holder})`);
}
