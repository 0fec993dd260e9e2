interface Head {
  value: number;
  /** Writes the value to its table; null for a head only read so far. */
  save: ((value: number) => void) | null;
}

/**
 * The heads of a store's counters (a conversation's last seq, an inbox's last cursor)
 * during one group commit: each is read from its table once, advanced in memory by every
 * write of the commit, and written back once at its end, before the COMMIT. A burst in one
 * conversation then reads and writes each head once instead of once per message.
 *
 * A write that fails is rolled back by its own savepoint; `undoWrite` puts back the heads
 * it had advanced, so the next write of the commit goes on from what is really stored.
 */
export class CommitHeads {
  private readonly heads = new Map<string, Head>();
  /** What the current write changed, to put back if it fails: the key and its head before. */
  private undo: [string, Head | undefined][] = [];

  /** The head's value, read with `read` the first time in this commit; 0 when there is none. */
  get(key: string, read: () => number | undefined): number {
    const known = this.heads.get(key);
    if (known !== undefined) return known.value;
    const value = read() ?? 0;
    // Read, not advanced: the table still holds this value, whatever is rolled back later.
    this.heads.set(key, { value, save: null });
    return value;
  }

  /** Advances a head; `save` writes it to its table at the end of the commit. */
  set(key: string, value: number, save: (value: number) => void): void {
    this.undo.push([key, this.heads.get(key)]);
    this.heads.set(key, { value, save });
  }

  /** A write of the commit begins: what it changes can be undone until the next begins. */
  beginWrite(): void {
    this.undo = [];
  }

  /** The current write failed and its savepoint was rolled back. */
  undoWrite(): void {
    for (const [key, before] of this.undo.reverse()) {
      if (before === undefined) this.heads.delete(key);
      else this.heads.set(key, before);
    }
    this.undo = [];
  }

  /** Writes every advanced head to its table: the last step of the commit's transaction. */
  saveAll(): void {
    for (const { value, save } of this.heads.values()) save?.(value);
  }
}
