import type { BlobStore } from "../ports/blob-store.js";
import type { Logger } from "../runtime/logger.js";
import { UPLOADS_PREFIX } from "./asset-service.js";

/** How often the assets service looks for leftovers of uploads. */
export const UPLOAD_SWEEP_INTERVAL_MS = 10 * 60_000;

/**
 * How old a leftover must be to go. An upload lives at most the HTTP server's 30-second
 * request timeout, so anything an hour old under the uploads prefix belongs to a process
 * that died mid-upload (or to a failed clean-up), not to an upload still running.
 */
export const UPLOAD_STALE_AFTER_MS = 60 * 60_000;

export interface UploadSweeperDeps {
  blobs: BlobStore;
  logger: Logger;
  clock?: () => Date;
  intervalMs?: number;
}

/**
 * Removes what uploads cut short by a dead process leave in the blob store: the object under
 * `uploads/` and, on S3, the unfinished multipart upload whose parts S3 keeps (and bills)
 * until aborted. A lifecycle rule would do it on S3 itself, but S3-compatible servers such
 * as S3Proxy do not implement them, so every assets process sweeps: first on start, then
 * every interval. Several replicas sweeping at once remove the same things, harmlessly.
 */
export class UploadSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly deps: UploadSweeperDeps) {}

  start(): void {
    this.running = this.sweep();
    this.timer = setInterval(() => {
      this.running = this.sweep();
    }, this.deps.intervalMs ?? UPLOAD_SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep under way, so the store can close after it. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One sweep; never throws (a failure is logged and the next sweep tries again). */
  async sweep(): Promise<void> {
    const now = (this.deps.clock ?? (() => new Date()))();
    try {
      const removed = await this.deps.blobs.removeStale(UPLOADS_PREFIX, new Date(now.getTime() - UPLOAD_STALE_AFTER_MS));
      if (removed > 0) this.deps.logger.info({ removed, prefix: UPLOADS_PREFIX }, "removed leftovers of uploads cut short");
    } catch (error) {
      this.deps.logger.warn({ err: error }, "could not sweep leftovers of uploads; trying again at the next sweep");
    }
  }
}
