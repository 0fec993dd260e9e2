import { StorageKeys, type ParleyStorage } from "./storage.js";
import type { OutboxEntry } from "./types.js";

/**
 * Sends not yet acknowledged by the server, in the order they were made, persisted so
 * that they survive a reload. Each keeps its clientMessageId, so a resend after a drop is
 * recognised by the server as the same message (stored once, acked as a duplicate).
 */
export class Outbox {
  private readonly entries = new Map<string, { key: string; entry: OutboxEntry }>();
  private counter = 0;

  constructor(private readonly storage: ParleyStorage) {}

  /** Reads the entries a previous session left behind. */
  async load(): Promise<void> {
    for (const key of await this.storage.keys(StorageKeys.outboxPrefix)) {
      const entry = (await this.storage.get(key)) as OutboxEntry | undefined;
      if (entry && !this.entries.has(entry.clientMessageId)) this.entries.set(entry.clientMessageId, { key, entry });
      this.counter = Math.max(this.counter, Number(key.split("/")[2] ?? 0) + 1);
    }
  }

  async add(entry: OutboxEntry): Promise<void> {
    if (this.entries.has(entry.clientMessageId)) return;
    // Keys sort in the order of sending: the time, then a counter within one millisecond.
    const key = `${StorageKeys.outboxPrefix}${String(Date.now()).padStart(15, "0")}/${String(this.counter++).padStart(9, "0")}`;
    this.entries.set(entry.clientMessageId, { key, entry });
    await this.storage.set(key, entry);
  }

  async remove(clientMessageId: string): Promise<void> {
    const held = this.entries.get(clientMessageId);
    if (!held) return;
    this.entries.delete(clientMessageId);
    await this.storage.delete(held.key);
  }

  has(clientMessageId: string): boolean {
    return this.entries.has(clientMessageId);
  }

  /** The pending entries, oldest first. */
  list(): OutboxEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).map((held) => held.entry);
  }
}
