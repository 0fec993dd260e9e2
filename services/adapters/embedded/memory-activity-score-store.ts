import type { ActivityScoreStore } from "../../ports/activity-score-store.js";
import type { UserId } from "../../protocol/ids.js";

/**
 * Scores in this process's memory: right for the embedded back ends' one process; several
 * processes would each see part of the activity. Never forgets a user: the caller decides
 * when memory matters (the fan-out prunes its own scores today).
 */
export class MemoryActivityScoreStore implements ActivityScoreStore {
  private readonly scoresByUser = new Map<UserId, { value: number; at: number }>();

  record(userId: UserId, weight: number, at: number, halfLifeMs: number): Promise<void> {
    const score = this.scoresByUser.get(userId);
    const latest = Math.max(at, score?.at ?? at);
    const value = (score ? decay(score.value, latest - score.at, halfLifeMs) : 0) + decay(weight, latest - at, halfLifeMs);
    this.scoresByUser.set(userId, { value, at: latest });
    return Promise.resolve();
  }

  scores(userIds: readonly UserId[], now: number, halfLifeMs: number): Promise<number[]> {
    return Promise.resolve(
      userIds.map((userId) => {
        const score = this.scoresByUser.get(userId);
        return score ? decay(score.value, Math.max(0, now - score.at), halfLifeMs) : 0;
      }),
    );
  }

  close(): Promise<void> {
    this.scoresByUser.clear();
    return Promise.resolve();
  }
}

function decay(value: number, elapsedMs: number, halfLifeMs: number): number {
  return value * Math.pow(0.5, elapsedMs / halfLifeMs);
}
