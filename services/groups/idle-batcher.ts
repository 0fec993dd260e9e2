import type { HeldBatchStore } from "../ports/held-batch-store.js";
import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";

export interface IdleBatcherOptions {
  delayMs: number;
  maxMessages: number;
  /** How often the due batches of any replica are swept (those whose own replica did not release them). */
  sweepIntervalMs: number;
}

/** Batches one sweep takes at most; the next sweep takes the rest. */
export const SWEEP_BATCHES = 1_000;

/**
 * Holds group messages for idle members, in the shared HeldBatchStore, and hands them over
 * as one batch per member: `delayMs` after the first message of the batch, or at once
 * when it reaches `maxMessages` (by the replica that filled it).
 *
 * The replica whose message opened a batch sets a timer for its due time, so on the usual
 * path a batch leaves exactly on time, as it did when batches lived in one process.
 * Every replica also sweeps the store every `sweepIntervalMs` for batches due and not
 * taken: those of a replica that died or stopped with batches held. Those leave up to one
 * sweep interval (plus the sweep's round trips) after their due time. The store hands
 * each batch to one taker, so timer, sweeps and filler never push it twice.
 */
export class IdleBatcher {
  private readonly timers = new Set<NodeJS.Timeout>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly store: HeldBatchStore,
    private readonly options: IdleBatcherOptions,
    private readonly flush: (userId: UserId, messages: Message[]) => void,
    private readonly now: () => number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts sweeping for due batches. */
  start(): void {
    this.sweepTimer = setInterval(() => {
      this.sweep().catch(this.onError);
    }, this.options.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** Holds `message` for each of `userIds`; resolves once it is held. */
  async add(userIds: readonly UserId[], message: Message): Promise<void> {
    if (userIds.length === 0) return;
    const { delayMs, maxMessages } = this.options;
    const results = await this.store.hold(userIds, message, this.now(), { delayMs, maxMessages });
    results.forEach((result, i) => {
      const userId = userIds[i] as UserId;
      if (result.full) this.flush(userId, result.full);
      else if (result.opened) this.releaseWhenDue(userId, result.dueAt);
    });
  }

  /**
   * Stops the timers and the sweep. Held batches stay in the store: another replica (or
   * this one, restarted) releases them when due; a stopping fan-out must not push
   * through a router that is shutting down.
   */
  stop(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private releaseWhenDue(userId: UserId, dueAt: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      // Taken only if still the batch due then: one filled and released early is gone,
      // and a newer batch is due later.
      this.store
        .take(userId, dueAt)
        .then((messages) => {
          if (messages.length > 0) this.flush(userId, messages);
        })
        .catch(this.onError);
    }, this.options.delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async sweep(): Promise<void> {
    // A slow store must not stack sweeps up.
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const batch of await this.store.takeDue(this.now(), SWEEP_BATCHES)) this.flush(batch.userId, batch.messages);
    } finally {
      this.sweeping = false;
    }
  }
}
