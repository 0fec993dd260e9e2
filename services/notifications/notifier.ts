import { CONSUMER_GROUPS, notificationTopic } from "../events/topics.js";
import { type EventBus, subscribeTo, type Subscription } from "../ports/event-bus.js";
import type { NotificationSink } from "../ports/notification-sink.js";
import type { OncePerWindow } from "../ports/once-per-window.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import type { Notification, NotificationRequest } from "../events/notification-request.js";

/**
 * Notifications handed to the sink at once: a request names up to 1,000 recipients, and
 * the webhook takes one POST each; bounded so one request does not open a thousand.
 */
const SINK_CONCURRENCY = 32;

/**
 * Turns notification requests (one per message, naming its offline recipients) into one
 * notification per recipient for the push provider, at most one per user per
 * `minIntervalMs`: a busy group must not buzz an offline phone for every message. The
 * limit is a shared claim per user, claimed for all of a request's recipients in one call,
 * so it holds whichever replica reads the request (the topic is split across them).
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
    const { userIds, ...about } = request;
    // Claimed a slice at a time, just before its sends: a notifier that dies part-way
    // leaves only that slice claimed and unsent, and the replayed request still notifies
    // the rest.
    for (let i = 0; i < userIds.length; i += SINK_CONCURRENCY) {
      const slice = userIds.slice(i, i + SINK_CONCURRENCY);
      const granted = await this.deps.claims.claimEach(
        slice.map((userId) => `notify:${userId}`),
        this.options.minIntervalMs,
      );
      const recipients = slice.filter((_, j) => granted[j] === true);
      if (recipients.length < slice.length) this.deps.metrics.notifications.inc({ outcome: "rate_limited" }, slice.length - recipients.length);
      await Promise.all(recipients.map((userId) => this.notify({ ...about, userId })));
    }
  }

  /** A failure is counted and logged: the recipient's other notifications are not held up by it. */
  private async notify(notification: Notification): Promise<void> {
    try {
      await this.deps.sink.notify(notification);
      this.deps.metrics.notifications.inc({ outcome: "sent" });
    } catch (error) {
      this.deps.metrics.notifications.inc({ outcome: "failed" });
      this.deps.logger.warn({ err: error, userId: notification.userId }, "notification failed");
    }
  }
}
