import type { ActivityKind } from "../events/activity-event.js";
import type { UserId } from "../protocol/ids.js";

/**
 * How much each kind of activity adds to a score. A fresh connection counts as active
 * (someone just opened the app); heartbeats alone keep a score low (three devices
 * heartbeating every 30 s settle near 0.9 with the default half-life), so an open but
 * untouched app drifts to idle.
 */
export const ACTIVITY_WEIGHTS: Record<ActivityKind, number> = {
  connect: 2,
  send: 3,
  read: 1,
  typing: 1,
  heartbeat: 0.02,
  disconnect: 0,
};

interface Score {
  value: number;
  at: number;
  /** The threshold `until` was worked out for (NaN: none yet). */
  threshold: number;
  /** The last moment the score is at or above `threshold`. */
  until: number;
}

/** Per-user activity scores that halve every `halfLifeMs` without new activity. */
export class ActivityScores {
  private readonly scores = new Map<UserId, Score>();

  constructor(
    private readonly halfLifeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** `count` activities of `kind` at `at`. */
  record(userId: UserId, kind: ActivityKind, at: number = this.now(), count = 1): void {
    // Events can arrive a little out of time order (each gateway stamps them with its
    // own clock). The score keeps the later time and a late event's weight is decayed
    // to it; restamping the whole score with the earlier time would age it.
    const latest = Math.max(at, this.scores.get(userId)?.at ?? at);
    const weight = count * ACTIVITY_WEIGHTS[kind] * Math.pow(0.5, (latest - at) / this.halfLifeMs);
    this.scores.set(userId, { value: this.decayed(userId, latest) + weight, at: latest, threshold: NaN, until: -Infinity });
  }

  /** The score at `at` (now by default; a caller scoring many users at once passes one reading). */
  score(userId: UserId, at: number = this.now()): number {
    return this.decayed(userId, at);
  }

  /**
   * Whether the score at `at` is at least `threshold`: what fan-out asks of every member of
   * a group for every message. The moment the score falls below the threshold is worked
   * out once per recorded activity, so each question is a look-up and a comparison.
   */
  isAtLeast(userId: UserId, threshold: number, at: number = this.now()): boolean {
    if (threshold <= 0) return true;
    const score = this.scores.get(userId);
    if (!score) return false;
    if (score.threshold !== threshold) {
      score.threshold = threshold;
      // value * 0.5^((t - at) / halfLife) >= threshold  <=>  t <= at + halfLife * log2(value / threshold)
      score.until = score.value >= threshold ? score.at + this.halfLifeMs * Math.log2(score.value / threshold) : -Infinity;
    }
    return at <= score.until;
  }

  /** Forgets users whose score has decayed to nearly nothing, so memory follows the active population. */
  prune(below = 0.01): void {
    const now = this.now();
    for (const userId of this.scores.keys()) {
      if (this.decayed(userId, now) < below) this.scores.delete(userId);
    }
  }

  private decayed(userId: UserId, at: number): number {
    const score = this.scores.get(userId);
    if (!score) return 0;
    return score.value * Math.pow(0.5, Math.max(0, at - score.at) / this.halfLifeMs);
  }
}
