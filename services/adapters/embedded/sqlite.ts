import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";

// Node's built-in SQLite (node:sqlite) rather than a native npm module: nothing to compile on
// install or in the image (docs/adr/0001, Update 2). These helpers give the stores the two
// things node:sqlite leaves out: statements typed by their parameters and rows, and
// transactions as functions that nest.

export type Sqlite = DatabaseSync;

/**
 * Opens an embedded store's SQLite file: WAL so readers never wait for the writer, and
 * synchronous=FULL so that a committed write has reached the disk before it is acked (the
 * message store turns it down to NORMAL and syncs the log itself, off the event loop:
 * WalSync).
 */
export function openSqlite(path: string): Sqlite {
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  return db;
}

/** A prepared statement whose parameters and result rows the caller names once, at prepare. */
export interface Statement<Params extends SQLInputValue[], Row> {
  run(...params: Params): { changes: number };
  get(...params: Params): Row | undefined;
  all(...params: Params): Row[];
}

export function prepare<Params extends SQLInputValue[] = SQLInputValue[], Row = unknown>(db: Sqlite, sql: string): Statement<Params, Row> {
  const statement = db.prepare(sql);
  return {
    // Counts fit a number: readBigInts is off, so SQLite's integers come back as numbers.
    run: (...params) => ({ changes: Number(statement.run(...params).changes) }),
    // The row's shape is the SQL's: the caller states it, as with any row read from a database.
    get: (...params) => statement.get(...params) as Row | undefined,
    all: (...params) => statement.all(...params) as Row[],
  };
}

/** How deep each database's open transactions are nested: names its savepoints. */
const depths = new WeakMap<Sqlite, number>();
/** Transaction control prepared once per database and SQL text, instead of parsed again for every write. */
const controls = new WeakMap<Sqlite, Map<string, StatementSync>>();

function control(db: Sqlite, sql: string): void {
  let prepared = controls.get(db);
  if (prepared === undefined) {
    prepared = new Map();
    controls.set(db, prepared);
  }
  let statement = prepared.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    prepared.set(sql, statement);
  }
  statement.run();
}

/**
 * Wraps work so that each call runs in one transaction: committed when it returns, rolled back
 * when it throws. A call made inside another transaction runs in a savepoint instead, so a
 * nested failure rolls back only its own writes and the outer transaction goes on.
 */
export function transaction<Args extends unknown[], Result>(db: Sqlite, work: (...args: Args) => Result): (...args: Args) => Result {
  return (...args) => {
    const nested = inTransaction(db);
    // Named by depth, not by a counter: the same few names (and prepared statements) serve
    // every write, and a savepoint is only ever released by the call that opened it.
    const outer = depths.get(db) ?? 0;
    const depth = nested ? outer + 1 : 0;
    const savepoint = `nested_${String(depth)}`;
    control(db, nested ? `SAVEPOINT ${savepoint}` : "BEGIN");
    depths.set(db, depth);
    let result: Result;
    try {
      result = work(...args);
    } catch (error) {
      // SQLite may have rolled back by itself (an I/O error, a full disk): then there is
      // nothing left to roll back, and trying would hide the original error.
      if (inTransaction(db)) {
        if (nested) {
          control(db, `ROLLBACK TO ${savepoint}`);
          control(db, `RELEASE ${savepoint}`);
        } else control(db, "ROLLBACK");
      }
      throw error;
    } finally {
      depths.set(db, outer);
    }
    if (nested) {
      control(db, `RELEASE ${savepoint}`);
      return result;
    }
    try {
      control(db, "COMMIT");
    } catch (error) {
      // A failed COMMIT leaves the transaction open; every later call would then run as a
      // savepoint inside it and "succeed" without ever reaching the disk. End it here.
      if (inTransaction(db)) control(db, "ROLLBACK");
      throw error;
    }
    return result;
  };
}

/**
 * Asked afresh each time: SQLite opens and ends transactions behind a statement's back, and
 * a property read would let the compiler assume it has not changed since the last read.
 */
function inTransaction(db: Sqlite): boolean {
  return db.isTransaction;
}

/** Runs synchronous SQLite work so that a failure is a rejected promise, as a port's callers expect. */
export function settle<T>(work: () => T): Promise<T> {
  // A throw inside a promise executor rejects the promise.
  return new Promise((resolve) => {
    resolve(work());
  });
}
