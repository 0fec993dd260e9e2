/**
 * What one watcher knows of the users it watches: the state from its `presence.subscribe`
 * answer, then every `presence` push, with the time each arrived, so a test can await a
 * user's state (online or offline) and say how long it took.
 */
import type { PresenceView } from "../protocol/frames.js";
import type { ParleyClient } from "../sdk/index.js";

export class PresenceLog {
  private readonly latest = new Map<string, PresenceView>();
  private waiters: (() => void)[] = [];

  /** Starts recording the client's pushes (before it subscribes, so none is missed). */
  constructor(client: ParleyClient) {
    client.on("presence", (view) => {
      this.record(view);
    });
  }

  /** Subscribes to the users and records their state now. */
  async subscribe(client: ParleyClient, users: string[]): Promise<void> {
    for (const view of await client.presence.subscribe(users)) this.record(view);
  }

  /** Resolves once the latest known state of `userId` is `online`; rejects after `timeoutMs`. */
  until(userId: string, online: boolean, timeoutMs: number): Promise<void> {
    const done = (): boolean => this.latest.get(userId)?.online === online;
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        reject(new Error(`${userId} not seen ${online ? "online" : "offline"} within ${String(timeoutMs)} ms (last seen state: ${JSON.stringify(this.latest.get(userId) ?? null)})`));
      }, timeoutMs);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private record(view: PresenceView): void {
    this.latest.set(view.userId, view);
    for (const waiter of [...this.waiters]) waiter();
  }
}
