/**
 * Runs tasks so that the tasks of one key run one at a time, in the order they were
 * added, while tasks of different keys run side by side, at most `limit` at once in all.
 * It is how every EventBus adapter keeps the port's order per (topic, key) while handling
 * many keys concurrently.
 *
 * A key waits for a slot only once its previous task has finished, so a key never holds
 * more than one slot: a busy or slow key cannot take the slots of the others. Slots are
 * handed out in the order tasks became ready.
 */
export class KeyedRunner {
  private running = 0;
  /** Tasks ready to run (their key's previous task is done), waiting for a slot. */
  private readonly waiting: (() => void)[] = [];
  /** The last task added per key, until it finishes. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly unfinished = new Set<Promise<void>>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number of at least 1, got ${String(limit)}`);
  }

  /**
   * Adds a task behind the earlier tasks of its key. The promise settles as the task does;
   * a task that fails does not stop the later ones of its key.
   */
  run(key: string, task: () => Promise<void> | void): Promise<void> {
    const previous = this.tails.get(key);
    const done = (previous ?? Promise.resolve()).then(() => this.inSlot(task));
    const settled = done.catch(() => undefined);
    this.tails.set(key, settled);
    this.unfinished.add(settled);
    void settled.then(() => {
      this.unfinished.delete(settled);
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return done;
  }

  /** Resolves once every task added so far (and any added meanwhile) has finished. */
  async idle(): Promise<void> {
    while (this.unfinished.size > 0) await Promise.all(this.unfinished);
  }

  private async inSlot(task: () => Promise<void> | void): Promise<void> {
    if (this.running < this.limit) this.running++;
    // The slot is handed over by the task that frees it (`running` stays as it is).
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
