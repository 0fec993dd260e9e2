import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { close, createHttpServer, listen } from "./http-server.js";
import { createLogger } from "./logger.js";
import { Metrics } from "./metrics.js";
import { StaticFilesApi } from "./static-files.js";

let root: string;
let server: Server;
let base: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "parley-static-"));
  await mkdir(join(root, "app", "assets"), { recursive: true });
  await writeFile(join(root, "app", "index.html"), "<!doctype html><title>Parley</title>");
  await writeFile(join(root, "app", "assets", "index-abc123.js"), "console.log(1)");
  await writeFile(join(root, "secret.txt"), "outside the web root");
  server = createHttpServer({
    metrics: new Metrics(),
    logger: createLogger("silent"),
    ready: () => true,
    apis: [new StaticFilesApi(join(root, "app"), "not built: run make build")],
  });
  base = (await listen(server, "127.0.0.1", 0)).url;
});

afterAll(async () => {
  await close(server);
  await rm(root, { recursive: true, force: true });
});

describe("StaticFilesApi", () => {
  it("serves index.html at / with a content security policy and no caching", async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(await response.text()).toContain("<title>Parley</title>");
  });

  it("serves hashed bundles as immutable, with their content type", async () => {
    const response = await fetch(`${base}/assets/index-abc123.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(response.headers.get("cache-control")).toContain("immutable");
  });

  it("leaves the probes and unknown paths to the server's own routes", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const missing = await fetch(`${base}/nothing-here.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "not found" });
  });

  it("never serves a file outside its root, however the path is encoded", async () => {
    // Sent raw: fetch would resolve "/../" and "/%2e%2e/" itself, and the server would never see them.
    const paths = ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt", "/assets/%2e%2e%2f%2e%2e%2fsecret.txt", "/%E0%A4%A"];
    for (const path of paths) {
      const response = await rawGet(base, path);
      expect(response.body, path).not.toContain("outside the web root");
      expect(response.status, path).not.toBe(200);
    }
  });

  it("says how to build the app when the root has no index.html", async () => {
    const unbuilt = createHttpServer({
      metrics: new Metrics(),
      logger: createLogger("silent"),
      ready: () => true,
      apis: [new StaticFilesApi(join(root, "missing"), "not built: run make build")],
    });
    const { url } = await listen(unbuilt, "127.0.0.1", 0);
    try {
      const response = await fetch(`${url}/`);
      expect(response.status).toBe(404);
      expect(await response.text()).toContain("run make build");
    } finally {
      await close(unbuilt);
    }
  });
});

/** A GET with the path exactly as given, not normalised by the client. */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, path, method: "GET" }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => { resolve({ status: response.statusCode ?? 0, body }); });
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}
