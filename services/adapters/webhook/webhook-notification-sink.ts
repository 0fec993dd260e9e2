import type { Notification } from "../../events/notification-request.js";
import type { NotificationSink } from "../../ports/notification-sink.js";
import { signatureHeader, SIGNATURE_HEADER } from "./webhook-signature.js";

const TIMEOUT_MS = 5_000;

export interface WebhookOptions {
  url: string;
  /**
   * Shared with the receiver, who checks the `Parley-Signature` header with it. Required:
   * an unsigned notification could be forged by anyone who can reach the receiver.
   */
  secret: string;
  /** Epoch milliseconds, for the signature's timestamp. Default Date.now. */
  now?: () => number;
}

/**
 * POSTs each notification as JSON to a push provider's webhook, signed with HMAC-SHA256
 * (see webhook-signature.ts); any non-2xx answer is a failure.
 */
export class WebhookNotificationSink implements NotificationSink {
  private readonly now: () => number;

  constructor(private readonly options: WebhookOptions) {
    if (options.secret.length === 0) throw new Error("the notification webhook needs a secret to sign with (PARLEY_NOTIFY_WEBHOOK_SECRET)");
    this.now = options.now ?? Date.now;
  }

  async notify(notification: Notification): Promise<void> {
    const body = JSON.stringify({ type: "parley.notification", ...notification });
    const response = await fetch(this.options.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        [SIGNATURE_HEADER]: signatureHeader(this.options.secret, body, Math.floor(this.now() / 1000)),
      },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`notification webhook answered HTTP ${response.status}`);
  }
}
