import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Makes committed SQLite transactions durable without holding the event loop.
 *
 * The store runs its connection at synchronous=NORMAL: a COMMIT then only writes the
 * transaction's frames to the write-ahead log (page cache, no disk sync) and SQLite still
 * syncs around every checkpoint itself. What synchronous=FULL adds, a sync of the log at
 * each COMMIT, is done here instead, as an fdatasync of the -wal file on libuv's thread
 * pool: once it returns, every transaction committed before it was started is on disk,
 * exactly as FULL would have left it. Commits that arrive while a sync runs share the
 * next one (group commit), so one disk sync covers as many writes as arrived meanwhile.
 */
export class WalSync {
  private file: Promise<FileHandle> | undefined;
  /** The sync that starts when the running one ends: it covers every commit made until then. */
  private next: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly databasePath: string) {}

  /** Resolves once every transaction committed before this call has reached the disk. */
  synced(): Promise<void> {
    if (this.next === undefined) {
      let resolve: () => void = () => undefined;
      let reject: (error: unknown) => void = () => undefined;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.next = { promise, resolve, reject };
    }
    const waiting = this.next.promise;
    this.running ??= this.drain();
    return waiting;
  }

  /** Waits for the syncs under way, then closes the log file. */
  async close(): Promise<void> {
    await this.running;
    const file = this.file;
    this.file = undefined;
    // A log file that could not be opened has nothing to close.
    if (file) await file.then((handle) => handle.close(), () => undefined);
  }

  private async drain(): Promise<void> {
    while (this.next !== undefined) {
      const batch = this.next;
      this.next = undefined;
      try {
        await (await this.walFile()).datasync();
        batch.resolve();
      } catch (error) {
        // A failed sync says nothing certain about what is on disk: the writes it covered
        // are not acknowledged (a retried send is then recognised by its client id).
        this.file = undefined;
        batch.reject(error);
      }
    }
    this.running = undefined;
  }

  /**
   * The -wal file exists once the first transaction has committed; it lives as long as
   * the database has a connection open. Its directory entry is synced once, as SQLite does
   * for a file it creates.
   */
  private walFile(): Promise<FileHandle> {
    this.file ??= (async () => {
      const directory = await open(dirname(this.databasePath), "r");
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
      return open(`${this.databasePath}-wal`, "r");
    })();
    return this.file;
  }
}
