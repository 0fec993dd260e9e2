import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Notification } from "../../events/notification-request.js";
import { WebhookNotificationSink } from "./webhook-notification-sink.js";
import { REPLAY_WINDOW_SECONDS, signatureHeader, verifySignature } from "./webhook-signature.js";

const SECRET = "webhook-test-secret-of-at-least-32-chars";
const NOW_MS = Date.UTC(2030, 0, 1, 12, 0, 0);
const NOW_S = NOW_MS / 1000;
const NOTIFICATION: Notification = { userId: "bob", groupId: "g1", conversationId: "grp:g1", messageId: "m1", senderId: "alice", seq: 7 };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server | undefined;

afterEach(async () => {
  const running = server;
  server = undefined;
  if (running) await new Promise((resolve) => running.close(resolve));
});

/** A receiver on a free port that records each request and answers `status`. */
async function receiver(status = 204): Promise<{ url: string; next: () => Promise<Received> }> {
  const waiting: ((received: Received) => void)[] = [];
  const received: Received[] = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const entry = { headers: request.headers, body: Buffer.concat(chunks).toString("utf8") };
      const waiter = waiting.shift();
      if (waiter) waiter(entry);
      else received.push(entry);
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}/notify`,
    next: () => {
      const queued = received.shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

describe("WebhookNotificationSink", () => {
  it("signs each POST so that a receiver holding the secret can verify it, body and time together", async () => {
    const { url, next } = await receiver();
    await new WebhookNotificationSink({ url, secret: SECRET, now: () => NOW_MS }).notify(NOTIFICATION);
    const { headers, body } = await next();
    expect(JSON.parse(body)).toEqual({ type: "parley.notification", ...NOTIFICATION });
    const header = headers["parley-signature"];
    expect(typeof header).toBe("string");
    expect(header).toMatch(new RegExp(`^t=${String(NOW_S)},v1=[0-9a-f]{64}$`));
    expect(verifySignature(SECRET, body, header as string, NOW_S)).toBe(true);

    // What a receiver must refuse: another secret, a changed body, a replay after the window.
    expect(verifySignature("another-secret-of-at-least-32-characters", body, header as string, NOW_S)).toBe(false);
    expect(verifySignature(SECRET, body.replace('"bob"', '"eve"'), header as string, NOW_S)).toBe(false);
    expect(verifySignature(SECRET, body, header as string, NOW_S + REPLAY_WINDOW_SECONDS + 1)).toBe(false);
    expect(verifySignature(SECRET, body, header as string, NOW_S + REPLAY_WINDOW_SECONDS)).toBe(true);
  });

  it("binds the timestamp into the signature: a fresh t on an old signature does not verify", () => {
    const body = JSON.stringify({ type: "parley.notification", ...NOTIFICATION });
    const old = signatureHeader(SECRET, body, NOW_S - 3600);
    const forged = old.replace(`t=${String(NOW_S - 3600)}`, `t=${String(NOW_S)}`);
    expect(verifySignature(SECRET, body, forged, NOW_S)).toBe(false);
    expect(verifySignature(SECRET, body, undefined, NOW_S)).toBe(false);
    expect(verifySignature(SECRET, body, `t=${String(NOW_S)}`, NOW_S)).toBe(false);
  });

  it("fails on an answer other than 2xx", async () => {
    const { url } = await receiver(500);
    await expect(new WebhookNotificationSink({ url, secret: SECRET }).notify(NOTIFICATION)).rejects.toThrow("HTTP 500");
  });

  it("refuses to be made without a secret", () => {
    expect(() => new WebhookNotificationSink({ url: "http://127.0.0.1:1/", secret: "" })).toThrow("PARLEY_NOTIFY_WEBHOOK_SECRET");
  });
});
