import type { Config } from "../runtime/config.js";

/** How much asset traffic one process takes on at once (see the asset settings in config.ts). */
export interface TransferLimits {
  uploadsInFlight: number;
  uploadsInFlightPerUser: number;
  downloadBytesInFlight: number;
  downloadBytesInFlightPerUser: number;
  downloadIdleTimeoutMs: number;
}

export function transferLimitsFromConfig(
  config: Pick<
    Config,
    "assetUploadsInFlight" | "assetUploadsInFlightPerUser" | "assetDownloadBytesInFlight" | "assetDownloadBytesInFlightPerUser" | "assetDownloadIdleTimeoutMs"
  >,
): TransferLimits {
  return {
    uploadsInFlight: config.assetUploadsInFlight,
    uploadsInFlightPerUser: config.assetUploadsInFlightPerUser,
    downloadBytesInFlight: config.assetDownloadBytesInFlight,
    downloadBytesInFlightPerUser: config.assetDownloadBytesInFlightPerUser,
    downloadIdleTimeoutMs: config.assetDownloadIdleTimeoutMs,
  };
}

/** Which cap a refused reservation hit: the user's own (HTTP 429) or the process's (HTTP 503). */
export type FullScope = "user" | "process";

/**
 * What a granted reservation holds until `release` (idempotent) frees the rest of it;
 * `shrink` frees part of it early, as a download hands its bytes to the socket.
 */
export interface Held {
  ok: true;
  release: () => void;
  shrink: (amount: number) => void;
}

export type Reservation = Held | { ok: false; full: FullScope };

/**
 * Counts something in flight (uploads, bytes still to send) per user and for the whole
 * process, and refuses a reservation that would pass either cap. A reservation always fits
 * when nothing is in flight on its side, so an amount larger than a cap (one big download)
 * is served alone rather than never.
 */
export class InFlightLimiter {
  private total = 0;
  private readonly byUser = new Map<string, number>();

  constructor(
    private readonly perProcess: number,
    private readonly perUser: number,
  ) {}

  reserve(userId: string, amount: number): Reservation {
    const mine = this.byUser.get(userId) ?? 0;
    if (mine > 0 && mine + amount > this.perUser) return { ok: false, full: "user" };
    if (this.total > 0 && this.total + amount > this.perProcess) return { ok: false, full: "process" };
    this.total += amount;
    this.byUser.set(userId, mine + amount);
    let held = amount;
    const free = (part: number): void => {
      const freed = Math.min(Math.max(part, 0), held);
      if (freed === 0) return;
      held -= freed;
      this.total -= freed;
      const left = (this.byUser.get(userId) ?? 0) - freed;
      // Users with nothing in flight take no memory.
      if (left > 0) this.byUser.set(userId, left);
      else this.byUser.delete(userId);
    };
    return {
      ok: true,
      release: () => { free(held); },
      shrink: free,
    };
  }

  /** What is in flight: for the process, and for `userId`. */
  inFlight(userId?: string): number {
    return userId === undefined ? this.total : (this.byUser.get(userId) ?? 0);
  }
}
