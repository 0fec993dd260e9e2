import { CONSUMER_GROUPS, notificationTopic } from "../events/topics.js";
import { type EventBus, subscribeTo, type Subscription } from "../ports/event-bus.js";
import type { NotificationSink } from "../ports/notification-sink.js";
import type { OncePerWindow } from "../ports/once-per-window.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import type { NotificationRequest } from "../events/notification-request.js";

/**
 * Sends notification requests to the push provider, at most one per user per
 * `minIntervalMs`: a busy group must not buzz an offline phone for every message. The
 * limit is a shared claim per user, so it holds whichever replica reads the request
 * (the notification topic is split across them).
 */
export class Notifier {
  private subscription: Subscription | undefined;

  constructor(
    private readonly options: { clusterName: string; minIntervalMs: number },
    private readonly deps: { bus: EventBus; sink: NotificationSink; claims: OncePerWindow; metrics: Metrics; logger: Logger },
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
    if (!(await this.deps.claims.claim(`notify:${request.userId}`, this.options.minIntervalMs))) {
      this.deps.metrics.notifications.inc({ outcome: "rate_limited" });
      return;
    }
    try {
      await this.deps.sink.notify(request);
      this.deps.metrics.notifications.inc({ outcome: "sent" });
    } catch (error) {
      this.deps.metrics.notifications.inc({ outcome: "failed" });
      this.deps.logger.warn({ err: error, userId: request.userId }, "notification failed");
    }
  }
}
