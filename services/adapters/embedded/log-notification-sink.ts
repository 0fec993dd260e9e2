import type { Notification } from "../../events/notification-request.js";
import type { NotificationSink } from "../../ports/notification-sink.js";
import type { Logger } from "../../runtime/logger.js";

/** On a laptop without a push provider: notifications go to the log. */
export class LogNotificationSink implements NotificationSink {
  constructor(private readonly logger: Logger) {}

  notify(notification: Notification): Promise<void> {
    this.logger.info({ notification }, "notification (no PARLEY_NOTIFY_WEBHOOK_URL set)");
    return Promise.resolve();
  }
}
