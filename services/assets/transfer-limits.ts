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

export type Reservation = { ok: true; release: () => void } | { ok: false; full: FullScope };

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
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total -= amount;
        const left = (this.byUser.get(userId) ?? 0) - amount;
        // Users with nothing in flight take no memory.
        if (left > 0) this.byUser.set(userId, left);
        else this.byUser.delete(userId);
      },
    };
  }

  /** What is in flight: for the process, and for `userId`. */
  inFlight(userId?: string): number {
    return userId === undefined ? this.total : (this.byUser.get(userId) ?? 0);
  }
}
