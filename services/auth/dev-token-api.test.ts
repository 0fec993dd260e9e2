import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { close, createHttpServer, listen } from "../runtime/http-server.js";
import { createLogger } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import { DEV_TOKEN_PATH, DevTokenApi } from "./dev-token-api.js";
import { TokenAuthority } from "./tokens.js";

const tokens = new TokenAuthority("a-test-secret-that-is-long-enough-for-hs256");
let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = createHttpServer({ metrics: new Metrics(), logger: createLogger("silent"), ready: () => true, apis: [new DevTokenApi(tokens, 3600)] });
  endpoint = (await listen(server, "127.0.0.1", 0)).url + DEV_TOKEN_PATH;
});

afterAll(async () => {
  await close(server);
});

function post(body: string, contentType = "application/json"): Promise<Response> {
  return fetch(endpoint, { method: "POST", headers: { "Content-Type": contentType }, body });
}

describe("POST /v1/dev/token", () => {
  it("signs a name in: the token it returns verifies as that user", async () => {
    const response = await post(JSON.stringify({ user: "alice" }));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as { userId: string; token: string; expiresAt: string };
    expect(body.userId).toBe("alice");
    const claims = await tokens.verify(body.token, { maxLifetimeSeconds: 3600 });
    expect(claims.userId).toBe("alice");
    expect(Math.abs(claims.expiresAt.getTime() - Date.parse(body.expiresAt))).toBeLessThan(2_000);
  });

  it("refuses a name that is not a valid user id, saying what a name may hold", async () => {
    for (const body of [JSON.stringify({ user: "bad name!" }), JSON.stringify({ user: "" }), JSON.stringify({ user: "bob", admin: true }), "{not json"]) {
      const response = await post(body);
      expect(response.status, body).toBe(400);
      expect(await response.json()).toMatchObject({ code: "bad_request", error: expect.stringContaining("A-Z a-z 0-9") as unknown });
    }
  });

  it("takes only JSON bodies, so another origin's page cannot post without a preflight", async () => {
    const response = await post(JSON.stringify({ user: "alice" }), "text/plain");
    expect(response.status).toBe(415);
    // Only the media type itself: a longer one that starts the same is not JSON.
    expect((await post(JSON.stringify({ user: "alice" }), "application/jsonp")).status).toBe(415);
    expect((await post(JSON.stringify({ user: "alice" }), "application/JSON; charset=utf-8")).status).toBe(200);
  });

  it("refuses other methods and oversized bodies", async () => {
    expect((await fetch(endpoint)).status).toBe(405);
    const response = await post(JSON.stringify({ user: "a".repeat(2000) }));
    expect(response.status).toBe(413);
  });
});
