import Database from "better-sqlite3";

/**
 * Opens an embedded store's SQLite file: WAL so readers never wait for the writer, and
 * synchronous=FULL so that a committed write has reached the disk before it is acked.
 */
export function openSqlite(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  return db;
}

/** Runs synchronous SQLite work so that a failure is a rejected promise, as a port's callers expect. */
export function settle<T>(work: () => T): Promise<T> {
  // A throw inside a promise executor rejects the promise.
  return new Promise((resolve) => {
    resolve(work());
  });
}
