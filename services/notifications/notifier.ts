import { CONSUMER_GROUPS, notificationTopic } from "../events/topics.js";
import { type EventBus, subscribeTo, type Subscription } from "../ports/event-bus.js";
import type { NotificationSink } from "../ports/notification-sink.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import type { UserId } from "../protocol/ids.js";
import type { NotificationRequest } from "../events/notification-request.js";

/**
 * Sends notification requests to the push provider, at most one per user per
 * `minIntervalMs`: a busy group must not buzz an offline phone for every message.
 */
export class Notifier {
  private readonly lastSent = new Map<UserId, number>();
  private subscription: Subscription | undefined;

  constructor(
    private readonly options: { clusterName: string; minIntervalMs: number },
    private readonly deps: { bus: EventBus; sink: NotificationSink; metrics: Metrics; logger: Logger; now?: () => number },
  ) {}

  async start(): Promise<void> {
    this.subscription = await subscribeTo(
      this.deps.bus,
      notificationTopic(this.options.clusterName),
      CONSUMER_GROUPS.notifier,
      (request) => this.handle(request),
      () => {
        this.deps.logger.error("dropped a malformed notification request");
      },
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.unsubscribe();
  }

  private async handle(request: NotificationRequest): Promise<void> {
    const now = (this.deps.now ?? Date.now)();
    const last = this.lastSent.get(request.userId);
    if (last !== undefined && now - last < this.options.minIntervalMs) {
      this.deps.metrics.notifications.inc({ outcome: "rate_limited" });
      return;
    }
    this.lastSent.set(request.userId, now);
    this.pruneOlderThan(now - this.options.minIntervalMs);
    try {
      await this.deps.sink.notify(request);
      this.deps.metrics.notifications.inc({ outcome: "sent" });
    } catch (error) {
      this.deps.metrics.notifications.inc({ outcome: "failed" });
      this.deps.logger.warn({ err: error, userId: request.userId }, "notification failed");
    }
  }

  /** Entries older than the interval no longer limit anything. */
  private pruneOlderThan(cutoff: number): void {
    if (this.lastSent.size < 10_000) return;
    for (const [userId, at] of this.lastSent) if (at < cutoff) this.lastSent.delete(userId);
  }
}
