/**
 * The thread that checkpoints an embedded store's write-ahead log (see WalCheckpointer).
 * It imports only Node's own modules, so it runs as it is: the compiled .js in a build,
 * the .ts source (types stripped by Node) in tests.
 */
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

const port = parentPort;
if (port === null) throw new Error("wal-checkpoint-worker runs as a worker thread");
const db = new DatabaseSync((workerData as { path: string }).path, { timeout: 5000 });
// At NORMAL a checkpoint syncs the log before it copies and the database file after,
// which is all a checkpoint needs; this connection writes nothing else.
db.exec("PRAGMA synchronous = NORMAL");
// PASSIVE: copies what it can without waiting for, or blocking, the store's writer.
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");

port.on("message", (message: unknown) => {
  if (message === "close") {
    db.close();
    port.close();
    return;
  }
  try {
    const row = checkpoint.get() as { busy: number; log: number; checkpointed: number };
    port.postMessage({ ok: true, logFrames: row.log, copiedFrames: row.checkpointed });
  } catch (error) {
    port.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) });
  }
});
