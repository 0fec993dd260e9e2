import { once } from "node:events";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/** The worker beside this module: .js once built, .ts when tests run the sources. */
const WORKER_URL = new URL(`./wal-checkpoint-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** What a checkpoint reported; `ok: false` when SQLite refused it (the next one retries). */
export type CheckpointOutcome = { ok: true; logFrames: number; copiedFrames: number } | { ok: false; message: string };

/**
 * Copies a SQLite database's write-ahead log into the database file on a worker thread,
 * so that the event loop never does it. Left to SQLite, the commit that passes 1,000 log
 * pages runs the checkpoint itself: two disk syncs and a few MB copied inside a COMMIT,
 * 4-14 ms measured here, on every hundredth commit or so: the store's p99.
 *
 * The store turns its own automatic checkpoint down to a fallback (a log that outgrows
 * what this thread keeps up with is still checkpointed) and tells this class of each
 * commit; a checkpoint then runs at most every `intervalMs`, one at a time, and once more
 * after the last commit. A passive checkpoint never blocks the writer. If the thread dies,
 * only the fallback remains: slower commits now and then, nothing lost.
 */
export class WalCheckpointer {
  /** Started with the first checkpoint: a store that is opened and closed at once never needs it. */
  private worker: Worker | undefined;
  private running = false;
  private wanted = false;
  private timer: NodeJS.Timeout | undefined;
  /** The first checkpoint waits an interval too, so the first commits do not start a thread. */
  private lastStarted = performance.now();
  private dead = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly databasePath: string,
    private readonly intervalMs: number,
    private readonly onOutcome: (outcome: CheckpointOutcome) => void = () => undefined,
  ) {}

  /** A transaction has committed: its log pages are due for a checkpoint. */
  committed(): void {
    this.wanted = true;
    this.next();
  }

  /** Resolves once no checkpoint is due or running. */
  idle(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.wanted = false;
    const worker = this.worker;
    const wasDead = this.dead;
    this.dead = true;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    if (worker === undefined || wasDead) return;
    const exited = once(worker, "exit");
    // Held open until the thread has closed its connection: unreferenced, a process with
    // nothing else left would end before the exit it waits for.
    worker.ref();
    worker.postMessage("close");
    await exited;
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(WORKER_URL, { workerData: { path: this.databasePath } });
    // The thread must not keep a process alive that has nothing else to do.
    worker.unref();
    worker.on("message", (outcome: CheckpointOutcome) => {
      this.running = false;
      this.onOutcome(outcome);
      this.next();
    });
    worker.on("error", (error: Error) => {
      this.stopped(`checkpoint thread failed: ${error.message}`);
    });
    worker.on("exit", (code) => {
      if (!this.dead) this.stopped(`checkpoint thread exited (${String(code)})`);
    });
    this.worker = worker;
    return worker;
  }

  /** The thread is gone: no more checkpoints from it (SQLite's fallback remains). */
  private stopped(message: string): void {
    this.dead = true;
    this.running = false;
    this.onOutcome({ ok: false, message });
    this.next();
  }

  private busy(): boolean {
    return !this.dead && (this.running || this.wanted);
  }

  private next(): void {
    if (this.running || this.timer !== undefined || !this.wanted || this.dead) {
      if (!this.busy()) for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    const wait = this.lastStarted + this.intervalMs - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.next();
      }, wait);
      this.timer.unref();
      return;
    }
    this.wanted = false;
    this.running = true;
    this.lastStarted = performance.now();
    this.thread().postMessage("checkpoint");
  }
}
