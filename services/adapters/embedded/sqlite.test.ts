import { afterEach, describe, expect, it } from "vitest";
import { openSqlite, prepare, transaction, type Sqlite } from "./sqlite.js";

describe("SQLite transactions", () => {
  let db: Sqlite;
  afterEach(() => {
    db.close();
  });

  function table(): { insert: (n: number) => void; values: () => number[] } {
    db = openSqlite(":memory:");
    db.exec("CREATE TABLE t (n INTEGER NOT NULL)");
    const insert = prepare<[number]>(db, "INSERT INTO t (n) VALUES (?)");
    const all = prepare<[], { n: number }>(db, "SELECT n FROM t ORDER BY n");
    return { insert: (n) => insert.run(n), values: () => all.all().map((row) => row.n) };
  }

  it("keeps every write of work that returns", () => {
    const { insert, values } = table();
    expect(transaction(db, (n: number) => { insert(n); insert(n + 1); return "done"; })(1)).toBe("done");
    expect(values()).toEqual([1, 2]);
    expect(db.isTransaction).toBe(false);
  });

  it("undoes every write of work that throws, and rethrows", () => {
    const { insert, values } = table();
    const failing = transaction(db, () => { insert(1); throw new Error("boom"); });
    expect(failing).toThrow("boom");
    expect(values()).toEqual([]);
    expect(db.isTransaction).toBe(false);
  });

  it("undoes only a nested call's writes when it throws inside an outer transaction", () => {
    const { insert, values } = table();
    const inner = transaction(db, (n: number) => { insert(n); if (n === 2) throw new Error("inner"); });
    transaction(db, () => {
      inner(1);
      expect(() => { inner(2); }).toThrow("inner");
      inner(3);
    })();
    expect(values()).toEqual([1, 3]);
  });

  it("undoes only the innermost call's writes when it throws two levels deep, again and again", () => {
    const { insert, values } = table();
    const innermost = transaction(db, (n: number) => { insert(n); if (n % 2 === 0) throw new Error("even"); });
    const middle = transaction(db, (n: number) => {
      insert(n * 10);
      for (const m of [n, n + 1]) {
        try { innermost(m); } catch { /* the middle goes on without it */ }
      }
    });
    transaction(db, () => { middle(1); middle(3); })();
    expect(values()).toEqual([1, 3, 10, 30]);
    expect(db.isTransaction).toBe(false);
  });

  it("ends a transaction whose COMMIT fails, so later writes are committed, not swallowed", () => {
    db = openSqlite(":memory:");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
    // A deferred foreign key is checked at COMMIT: the commit itself fails.
    db.exec("CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)");
    const orphan = prepare<[number]>(db, "INSERT INTO child (parent) VALUES (?)");
    const parent = prepare<[number]>(db, "INSERT INTO parent (id) VALUES (?)");
    expect(() => transaction(db, () => orphan.run(7))()).toThrow(/FOREIGN KEY/);
    expect(db.isTransaction).toBe(false);

    transaction(db, () => parent.run(1))();
    expect(db.isTransaction).toBe(false);
    expect(prepare<[], { id: number }>(db, "SELECT id FROM parent").all()).toEqual([{ id: 1 }]);
    expect(prepare<[], { parent: number }>(db, "SELECT parent FROM child").all()).toEqual([]);
  });
});
