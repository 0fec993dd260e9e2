import type { BatchLimits, HeldBatch, HeldBatchStore, HoldResult } from "../../ports/held-batch-store.js";
import type { Message } from "../../protocol/frames.js";
import type { UserId } from "../../protocol/ids.js";

interface Batch {
  dueAt: number;
  messages: Message[];
}

/** Held batches in the memory of the one `parley dev` process; a restart forgets them (the messages stay stored for sync). */
export class MemoryHeldBatchStore implements HeldBatchStore {
  private readonly batches = new Map<UserId, Batch>();

  hold(userIds: readonly UserId[], message: Message, now: number, { delayMs, maxMessages }: BatchLimits): Promise<HoldResult[]> {
    return Promise.resolve(
      userIds.map((userId) => {
        let batch = this.batches.get(userId);
        const opened = batch === undefined;
        if (!batch) {
          batch = { dueAt: now + delayMs, messages: [] };
          this.batches.set(userId, batch);
        }
        if (batch.messages.some((held) => held.messageId === message.messageId)) return { opened, dueAt: batch.dueAt, full: null };
        batch.messages.push(message);
        if (batch.messages.length < maxMessages) return { opened, dueAt: batch.dueAt, full: null };
        this.batches.delete(userId);
        return { opened, dueAt: batch.dueAt, full: batch.messages };
      }),
    );
  }

  take(userId: UserId, deadline: number): Promise<Message[]> {
    const batch = this.batches.get(userId);
    if (!batch || batch.dueAt > deadline) return Promise.resolve([]);
    this.batches.delete(userId);
    return Promise.resolve(batch.messages);
  }

  takeDue(now: number, limit: number): Promise<HeldBatch[]> {
    const taken: HeldBatch[] = [];
    for (const [userId, batch] of this.batches) {
      if (taken.length >= limit) break;
      if (batch.dueAt > now) continue;
      this.batches.delete(userId);
      taken.push({ userId, messages: batch.messages });
    }
    return Promise.resolve(taken);
  }

  close(): Promise<void> {
    this.batches.clear();
    return Promise.resolve();
  }
}
