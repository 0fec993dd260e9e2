import { auth, Client, policies, types } from "cassandra-driver";

import type { Replication } from "../../events/replication.js";

export type { Replication };

export type ConsistencyName = "ONE" | "LOCAL_ONE" | "QUORUM" | "LOCAL_QUORUM" | "EACH_QUORUM" | "ALL";
export type SerialConsistencyName = "SERIAL" | "LOCAL_SERIAL";

/**
 * Consistency levels of the Cassandra adapters. The defaults (LOCAL_QUORUM reads and
 * writes, LOCAL_SERIAL for lightweight transactions) make every read see every
 * acknowledged write of the same data centre, which the message store's crash recovery
 * relies on: lower levels (ONE) are accepted but give up that guarantee.
 */
export interface CassandraConsistency {
  read?: ConsistencyName;
  write?: ConsistencyName;
  /** The Paxos phase of lightweight transactions and SERIAL reads. */
  serial?: SerialConsistencyName;
}

/** What every Cassandra adapter is configured with. */
export interface CassandraOptions {
  /** `host` or `host:port` (default port 9042). */
  contactPoints: readonly string[];
  /** The data centre this process runs in: the driver sends requests to its nodes. */
  localDataCenter: string;
  /** Letters, digits and underscores, starting with a letter; at most 48 characters. */
  keyspace: string;
  /** Used when the migrations create the keyspace. Default: SimpleStrategy, 1 copy. */
  replication?: Replication;
  consistency?: CassandraConsistency;
  /** Password authentication (PasswordAuthenticator); unset: none. */
  credentials?: { username: string; password: string };
  /**
   * Run the schema migrations when a store opens (default true). The operator runs them
   * once per rollout instead and starts the services with `false`.
   */
  migrate?: boolean;
}

export interface ResolvedConsistency {
  read: types.consistencies;
  write: types.consistencies;
  serial: types.consistencies;
}

const CONSISTENCIES: Record<ConsistencyName | SerialConsistencyName, types.consistencies> = {
  ONE: types.consistencies.one,
  LOCAL_ONE: types.consistencies.localOne,
  QUORUM: types.consistencies.quorum,
  LOCAL_QUORUM: types.consistencies.localQuorum,
  EACH_QUORUM: types.consistencies.eachQuorum,
  ALL: types.consistencies.all,
  SERIAL: types.consistencies.serial,
  LOCAL_SERIAL: types.consistencies.localSerial,
};

export function resolveConsistency(consistency: CassandraConsistency = {}): ResolvedConsistency {
  return {
    read: CONSISTENCIES[consistency.read ?? "LOCAL_QUORUM"],
    write: CONSISTENCIES[consistency.write ?? "LOCAL_QUORUM"],
    serial: CONSISTENCIES[consistency.serial ?? "LOCAL_SERIAL"],
  };
}

export const DEFAULT_REPLICATION: Replication = { class: "SimpleStrategy", replicationFactor: 1 };

const KEYSPACE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;

/** The keyspace name, checked: it is written into CQL text, so nothing else may pass. */
export function checkedKeyspace(keyspace: string): string {
  if (!KEYSPACE_NAME.test(keyspace)) {
    throw new Error(`invalid keyspace name ${JSON.stringify(keyspace)}: letters, digits and _ (at most 48), starting with a letter`);
  }
  return keyspace.toLowerCase();
}

/** A connected driver client, not bound to a keyspace (statements name theirs). */
export async function connectCassandra(options: Pick<CassandraOptions, "contactPoints" | "localDataCenter" | "credentials">): Promise<Client> {
  const client = new Client({
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
    ...(options.credentials ? { authProvider: new auth.PlainTextAuthProvider(options.credentials.username, options.credentials.password) } : {}),
    // Statements are prepared once per client (and node); bound values need no quoting.
    queryOptions: { prepare: true },
    socketOptions: { connectTimeout: 5_000, readTimeout: 12_000 },
    // The driver's default waits up to 10 minutes between attempts to reach a node that went
    // away (1 s, doubling): after a restart of a minute or two it went on failing requests
    // with NoHostAvailableError for up to a minute more. Every 2 s at the most instead.
    policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(250, 2_000, false) },
  });
  try {
    await client.connect();
  } catch (error) {
    await client.shutdown().catch(() => undefined);
    throw error;
  }
  return client;
}

/**
 * Errors after which the outcome of a statement is unknown or the cluster was briefly
 * unable to answer: the adapters re-run their (idempotent, state-checking) steps.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof StatementDeadlineError || error.name === "OperationTimedOutError" || error.name === "NoHostAvailableError") return true;
  const code = (error as { code?: unknown }).code;
  return (
    error.name === "ResponseError" &&
    (code === types.responseErrorCodes.writeTimeout ||
      code === types.responseErrorCodes.readTimeout ||
      code === types.responseErrorCodes.unavailableException ||
      code === types.responseErrorCodes.overloaded)
  );
}

/** Runs `attempt` again after transient errors, a few times, backing off a little. */
export async function retryTransient<T>(attempt: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** i + Math.random() * 20));
    }
  }
}

/**
 * The longest a statement may take before the adapters give up on it, whatever the driver
 * does: past the driver's own timeouts (5 s to connect, 12 s for an answer), so its error
 * normally comes first.
 */
export const STATEMENT_DEADLINE_MS = 20_000;

/** A statement the driver neither answered nor failed within STATEMENT_DEADLINE_MS: its outcome is unknown. */
export class StatementDeadlineError extends Error {
  constructor(deadlineMs: number) {
    super(`Cassandra did not answer a statement within ${deadlineMs} ms: its outcome is unknown`);
    this.name = "StatementDeadlineError";
  }
}

/**
 * `statement`, or a StatementDeadlineError once `deadlineMs` have passed without it
 * settling. Every statement of the stores goes through this: one that never settled (seen
 * after a Cassandra restart) held its conversation's lock in the store and its partition
 * of the request topic in the service, so every later request of those users went
 * unanswered. Its outcome is unknown, as after a driver timeout: the stores' steps are
 * idempotent and re-run (retryTransient).
 */
export function settleWithin<T>(statement: Promise<T>, deadlineMs = STATEMENT_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new StatementDeadlineError(deadlineMs));
    }, deadlineMs);
  });
  return Promise.race([statement, deadline]).finally(() => {
    clearTimeout(timer);
  });
}
