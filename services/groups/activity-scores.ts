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
}

/** Per-user activity scores that halve every `halfLifeMs` without new activity. */
export class ActivityScores {
  private readonly scores = new Map<UserId, Score>();

  constructor(
    private readonly halfLifeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  record(userId: UserId, kind: ActivityKind, at: number = this.now()): void {
    const current = this.decayed(userId, at);
    this.scores.set(userId, { value: current + ACTIVITY_WEIGHTS[kind], at });
  }

  score(userId: UserId): number {
    return this.decayed(userId, this.now());
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
