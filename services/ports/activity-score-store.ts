import type { UserId } from "../protocol/ids.js";

/**
 * Per-user activity scores that halve every `halfLifeMs` without new activity, shared by
 * every groups replica: a member's tier must not depend on which replica handles the
 * group. Times are the gateways' epoch milliseconds, as the activity events carry them.
 *
 * Not wired yet: the fan-out still keeps its scores in memory (ADR 0011, "What is left").
 */
export interface ActivityScoreStore {
  /**
   * Adds `weight` at time `at`. A late event (earlier than the score's time) is decayed
   * to the score's time rather than ageing the whole score.
   */
  record(userId: UserId, weight: number, at: number, halfLifeMs: number): Promise<void>;
  /** The scores of `userIds` decayed to `now`, in the order given; 0 for a user never recorded. */
  scores(userIds: readonly UserId[], now: number, halfLifeMs: number): Promise<number[]>;
  close(): Promise<void>;
}
