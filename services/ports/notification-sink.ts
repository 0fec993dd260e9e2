import type { Notification } from "../events/notification-request.js";

/** Where notifications for offline users go: a push provider (FCM, APNs, a relay) behind a webhook. */
export interface NotificationSink {
  /** Resolves once the provider accepted the notification; rejects otherwise. */
  notify(notification: Notification): Promise<void>;
}
