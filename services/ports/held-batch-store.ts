import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";

/** How a batch is shaped: when it is due after its first message, and how many messages fill it. */
export interface BatchLimits {
  delayMs: number;
  maxMessages: number;
}

/** What holding one message for one member did. */
export interface HoldResult {
  /** This message opened the member's batch, which is due at `dueAt` (epoch ms). */
  opened: boolean;
  dueAt: number;
  /** The whole batch, taken from the store, when this message filled it; null while it is held. */
  full: Message[] | null;
}

export interface HeldBatch {
  userId: UserId;
  /** In the order they were held. */
  messages: Message[];
}

/**
 * The group messages held for idle members until their batch is due, shared by every
 * groups replica: a member's batch collects the messages of all their groups whichever
 * replica fans each group out, and a batch held by a replica that died is released by
 * another. Each batch is taken (returned and removed) by exactly one caller.
 *
 * Times are epoch milliseconds given by the caller, so replicas must keep their clocks
 * in step (NTP): a skew of a few milliseconds moves a release by as much.
 */
export interface HeldBatchStore {
  /**
   * Adds `message` to the batch of each of `userIds`, opening one due at `now + delayMs`
   * where none is held. A message already in a member's batch is not added again (a
   * fan-out redone after a replica died before committing its offset). A batch that
   * reaches `maxMessages` is taken at once and returned in `full`. Results are in the
   * order of `userIds`.
   */
  hold(userIds: readonly UserId[], message: Message, now: number, limits: BatchLimits): Promise<HoldResult[]>;
  /** Takes `userId`'s batch if it is due by `deadline`; an empty list otherwise (none held, or a later one). */
  take(userId: UserId, deadline: number): Promise<Message[]>;
  /** Takes up to about `limit` batches due by `now`, of any members: the sweep every replica runs. */
  takeDue(now: number, limit: number): Promise<HeldBatch[]>;
  close(): Promise<void>;
}
