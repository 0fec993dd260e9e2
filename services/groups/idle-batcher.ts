import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";

interface Batch {
  messages: Message[];
  timer: NodeJS.Timeout;
}

/**
 * Holds group messages for idle members and hands them over as one batch per member:
 * `delayMs` after the first message of the batch, or at once when it reaches `maxMessages`.
 */
export class IdleBatcher {
  private readonly batches = new Map<UserId, Batch>();

  constructor(
    private readonly delayMs: number,
    private readonly maxMessages: number,
    private readonly flush: (userId: UserId, messages: Message[]) => void,
  ) {}

  add(userId: UserId, message: Message): void {
    let batch = this.batches.get(userId);
    if (!batch) {
      const timer = setTimeout(() => {
        this.release(userId);
      }, this.delayMs);
      timer.unref();
      batch = { messages: [], timer };
      this.batches.set(userId, batch);
    }
    batch.messages.push(message);
    if (batch.messages.length >= this.maxMessages) this.release(userId);
  }

  /** Drops every held batch; their messages stay stored for sync. */
  clear(): void {
    for (const batch of this.batches.values()) clearTimeout(batch.timer);
    this.batches.clear();
  }

  private release(userId: UserId): void {
    const batch = this.batches.get(userId);
    if (!batch) return;
    clearTimeout(batch.timer);
    this.batches.delete(userId);
    this.flush(userId, batch.messages);
  }
}
