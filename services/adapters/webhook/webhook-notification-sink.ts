import type { NotificationRequest } from "../../events/notification-request.js";
import type { NotificationSink } from "../../ports/notification-sink.js";

const TIMEOUT_MS = 5_000;

/** POSTs each notification as JSON to a push provider's webhook; any non-2xx answer is a failure. */
export class WebhookNotificationSink implements NotificationSink {
  constructor(private readonly url: string) {}

  async notify(notification: NotificationRequest): Promise<void> {
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "parley.notification", ...notification }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`notification webhook answered HTTP ${response.status}`);
  }
}
