import { describe, expect, it } from "vitest";
import { platformPerTest } from "../e2e/support/test-platform.js";
import { ConfigError, loadConfig } from "../runtime/config.js";
import { png } from "./testing/media-fixtures.js";

const startPlatform = platformPerTest();
const APP = "https://chat.example.com";

function preflight(url: string, origin: string, method = "POST"): Promise<Response> {
  return fetch(url, { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "authorization" } });
}

describe("CORS on the asset API", () => {
  it("allows no other origin by default: no CORS headers, preflights refused", async () => {
    const platform = await startPlatform();
    const answer = await preflight(`${platform.url}/v1/assets`, APP);
    expect(answer.status).toBe(403);
    expect(answer.headers.get("access-control-allow-origin")).toBeNull();
    expect(await answer.json()).toMatchObject({ code: "forbidden" });

    const upload = await fetch(`${platform.url}/v1/assets`, { method: "POST", headers: { Origin: APP, Authorization: `Bearer ${await platform.token("alice")}` }, body: png() });
    expect(upload.status).toBe(201);
    expect(upload.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers a preflight from an allowed origin and lets it read uploads, links, downloads and errors", async () => {
    const platform = await startPlatform({ assetCorsOrigins: [APP] });
    const answer = await preflight(`${platform.url}/v1/assets`, APP);
    expect(answer.status).toBe(204);
    expect(answer.headers.get("access-control-allow-origin")).toBe(APP);
    expect(answer.headers.get("access-control-allow-methods")).toBe("GET, HEAD, POST");
    expect(answer.headers.get("access-control-allow-headers")).toContain("Authorization");
    expect(answer.headers.get("vary")).toBe("Origin");

    const token = await platform.token("alice");
    const upload = await fetch(`${platform.url}/v1/assets`, { method: "POST", headers: { Origin: APP, Authorization: `Bearer ${token}` }, body: png() });
    expect(upload.headers.get("access-control-allow-origin")).toBe(APP);
    const { assetId } = (await upload.json()) as { assetId: string };
    const link = await fetch(`${platform.url}/v1/assets/${assetId}/link`, { method: "POST", headers: { Origin: APP, Authorization: `Bearer ${token}` } });
    const { url } = (await link.json()) as { url: string };
    const download = await fetch(new URL(url, platform.url), { headers: { Origin: APP } });
    expect(download.status).toBe(200);
    expect(download.headers.get("access-control-allow-origin")).toBe(APP);
    expect(download.headers.get("access-control-expose-headers")).toContain("Content-Disposition");
    expect(download.headers.get("access-control-expose-headers")).toContain("ETag");

    const refused = await fetch(`${platform.url}/v1/assets`, { method: "POST", headers: { Origin: APP }, body: png() });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    expect(refused.headers.get("access-control-expose-headers")).toContain("Retry-After");

    expect((await preflight(`${platform.url}/v1/assets`, "https://evil.example.com")).status).toBe(403);
  });

  it("allows any origin with *", async () => {
    const platform = await startPlatform({ assetCorsOrigins: ["*"] });
    const answer = await preflight(`${platform.url}/v1/assets/a01JDZ8K3M4N5P6Q7R8S9T0V1WX`, "http://localhost:5173", "GET");
    expect(answer.status).toBe(204);
    expect(answer.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
  });
});

describe("PARLEY_ASSET_CORS_ORIGINS", () => {
  it("is a comma-separated list of origins, unset (no other origin) by default", () => {
    expect(loadConfig({}, {}).assetCorsOrigins).toBeUndefined();
    expect(loadConfig({}, { PARLEY_ASSET_CORS_ORIGINS: "https://a.example.com, http://localhost:5173" }).assetCorsOrigins).toEqual(["https://a.example.com", "http://localhost:5173"]);
  });

  it("refuses an entry that is not an origin, naming the variable", () => {
    expect(() => loadConfig({}, { PARLEY_ASSET_CORS_ORIGINS: "https://a.example.com/app" })).toThrow(ConfigError);
    expect(() => loadConfig({}, { PARLEY_ASSET_CORS_ORIGINS: "https://a.example.com/app" })).toThrow(/PARLEY_ASSET_CORS_ORIGINS: must be origins/);
  });
});
