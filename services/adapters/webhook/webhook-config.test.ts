import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../runtime/config.js";

describe("notification webhook settings", () => {
  it("refuse to start with a webhook URL but no secret to sign with", () => {
    const env = { PARLEY_NOTIFY_WEBHOOK_URL: "https://push.example.com/notify" };
    expect(() => loadConfig({}, env)).toThrow(ConfigError);
    expect(() => loadConfig({}, env)).toThrow("PARLEY_NOTIFY_WEBHOOK_SECRET: required when PARLEY_NOTIFY_WEBHOOK_URL is set");
  });

  it("accept a URL with a secret of 32 characters or more, and never echo a short one", () => {
    const secret = "s".repeat(32);
    const config = loadConfig({}, { PARLEY_NOTIFY_WEBHOOK_URL: "https://push.example.com/notify", PARLEY_NOTIFY_WEBHOOK_SECRET: secret });
    expect(config.notifyWebhookSecret).toBe(secret);
    expect(() => loadConfig({}, { PARLEY_NOTIFY_WEBHOOK_SECRET: "short-secret" })).toThrow(/PARLEY_NOTIFY_WEBHOOK_SECRET: must be at least 32 characters \(got a value that is hidden\)/);
  });
});
