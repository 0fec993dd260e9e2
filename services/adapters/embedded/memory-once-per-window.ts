import type { OncePerWindow } from "../../ports/once-per-window.js";

/** Claims above this many are pruned of lapsed ones at the next claim. */
const PRUNE_ABOVE = 10_000;

/**
 * Claims in this process's memory. Right for the embedded back ends, where one process
 * runs every service; with several processes each would claim on its own, so the limits
 * would multiply by the replica count (the production back ends use Redis).
 */
export class MemoryOncePerWindow implements OncePerWindow {
  /** Key -> when its claim lapses. */
  private readonly claims = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  claim(key: string, windowMs: number): Promise<boolean> {
    return Promise.resolve(this.claimNow(key, windowMs, this.now()));
  }

  claimEach(keys: readonly string[], windowMs: number): Promise<boolean[]> {
    const now = this.now();
    return Promise.resolve(keys.map((key) => this.claimNow(key, windowMs, now)));
  }

  private claimNow(key: string, windowMs: number, now: number): boolean {
    const lapsesAt = this.claims.get(key);
    if (lapsesAt !== undefined && lapsesAt > now) return false;
    if (this.claims.size >= PRUNE_ABOVE) {
      for (const [other, at] of this.claims) if (at <= now) this.claims.delete(other);
    }
    this.claims.set(key, now + windowMs);
    return true;
  }

  close(): Promise<void> {
    this.claims.clear();
    return Promise.resolve();
  }
}
