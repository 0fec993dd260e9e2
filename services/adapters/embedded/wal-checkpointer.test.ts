import { statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../../testing/temp-dir.js";
import { openSqlite, prepare, transaction } from "./sqlite.js";
import { WalCheckpointer, type CheckpointOutcome } from "./wal-checkpointer.js";

describe("WalCheckpointer", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function database(): Promise<{ path: string; write: (rows: number) => void }> {
    const dir = await makeTempDir("parley-checkpoint-");
    const path = join(dir.path, "store.db");
    const db = openSqlite(path);
    // As the message store runs it: the writer never checkpoints by itself here.
    db.exec("PRAGMA wal_autocheckpoint = 0");
    db.exec("CREATE TABLE t (body TEXT NOT NULL)");
    const insert = prepare<[string]>(db, "INSERT INTO t (body) VALUES (?)");
    cleanups.push(async () => {
      db.close();
      await dir.remove();
    });
    return { path, write: transaction(db, (rows: number) => { for (let i = 0; i < rows; i++) insert.run("x".repeat(1000)); }) };
  }

  it("copies the committed log into the database file on its own thread", async () => {
    const { path, write } = await database();
    const outcomes: CheckpointOutcome[] = [];
    const checkpointer = new WalCheckpointer(path, 10, (outcome) => outcomes.push(outcome));
    cleanups.push(() => checkpointer.close());
    write(2000);
    const before = statSync(path).size;
    checkpointer.committed();
    await checkpointer.idle();
    expect(outcomes.at(-1)).toMatchObject({ ok: true });
    // About 2 MB of rows reached the database file without the writer checkpointing.
    expect(statSync(path).size - before).toBeGreaterThan(1_500_000);
  });

  it("runs one checkpoint for a burst of commits, and another for commits made while it ran", async () => {
    const { path, write } = await database();
    const outcomes: CheckpointOutcome[] = [];
    const checkpointer = new WalCheckpointer(path, 0, (outcome) => outcomes.push(outcome));
    cleanups.push(() => checkpointer.close());
    for (let i = 0; i < 50; i++) {
      write(1);
      checkpointer.committed();
    }
    await checkpointer.idle();
    // The first commit starts a checkpoint at once; the 49 made while it runs share one more.
    expect(outcomes).toHaveLength(2);
    write(1);
    checkpointer.committed();
    await checkpointer.idle();
    expect(outcomes.at(-1)).toMatchObject({ ok: true, logFrames: expect.any(Number) as number });
  });
});
