import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

export const WEBSOCKET_PATH = "/ws";

/** A service's own HTTP endpoints (under /v1/...). Resolves false for a request it does not serve. */
export interface HttpApi {
  handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean>;
}

/** Takes WebSocket upgrades on /ws: the gateway, in a process that runs one. */
export interface UpgradeHandler {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface HttpServerOptions {
  metrics: Metrics;
  logger: Logger;
  /** What /readyz reports. */
  ready: () => boolean;
  /** What takes WebSocket upgrades on /ws; a process without one refuses them. */
  upgrades?: UpgradeHandler;
  apis?: readonly HttpApi[];
}

/**
 * Every process's HTTP surface: health and readiness probes, Prometheus metrics, the
 * services' own endpoints and, in a gateway, the WebSocket endpoint.
 */
export function createHttpServer({ metrics, logger, ready, upgrades, apis = [] }: HttpServerOptions): Server {
  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      logger.error({ err: error, url: request.url }, "request failed");
      if (!response.headersSent) json(response, 500, { error: "internal error" });
      else response.destroy();
    });
  });

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    for (const api of apis) {
      if (await api.handle(request, response, path)) return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      json(response, 405, { error: "method not allowed" });
      return;
    }
    switch (path) {
      case "/healthz":
        json(response, 200, { status: "ok" });
        return;
      case "/readyz":
        json(response, ready() ? 200 : 503, { status: ready() ? "ready" : "not ready" });
        return;
      case "/metrics":
        response.writeHead(200, { "Content-Type": metrics.registry.contentType });
        response.end(await metrics.registry.metrics());
        return;
      case WEBSOCKET_PATH:
        json(response, 426, { error: "upgrade required: connect with a WebSocket client" });
        return;
      default:
        json(response, 404, { error: "not found" });
    }
  }

  server.on("upgrade", (request: IncomingMessage, socket, head: Buffer) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path !== WEBSOCKET_PATH || !upgrades) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    upgrades.handleUpgrade(request, socket, head);
  });

  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(JSON.stringify(body));
}

/** Starts listening; resolves with the bound port and the base URL. */
export async function listen(server: Server, host: string, port: number): Promise<{ port: number; url: string }> {
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolveListen();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return { port: bound, url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}` };
}

/** Stops accepting, ends open connections and resolves once the server is closed. */
export async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((done) => {
    server.close(() => {
      done();
    });
  });
}
