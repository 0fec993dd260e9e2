import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

export const WEBSOCKET_PATH = "/ws";
/** Time a client has to send a request's headers (docs/operations.md). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Time a client has to send a whole request, body included (docs/operations.md). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** The longest a timed-out request may outlive its bound: how often Node checks them. */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

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
  /** Default HEADERS_TIMEOUT_MS; tests set short ones. */
  headersTimeoutMs?: number;
  /** Default REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
}

/**
 * Every process's HTTP surface: health and readiness probes, Prometheus metrics, the
 * services' own endpoints and, in a gateway, the WebSocket endpoint.
 */
export function createHttpServer({
  metrics,
  logger,
  ready,
  upgrades,
  apis = [],
  headersTimeoutMs = HEADERS_TIMEOUT_MS,
  requestTimeoutMs = REQUEST_TIMEOUT_MS,
}: HttpServerOptions): Server {
  // Node does not time requests out on a timer of their own: it checks every open
  // connection every `connectionsCheckingInterval` (30 s by default), so a 30 s request
  // timeout fired anywhere between 30 and 60 s, and a 10 s headers timeout only at the
  // next 30 s check. Checking every second (more often for short test timeouts) keeps
  // each cut within a second of its documented bound, for a walk over the connections.
  const checkingInterval = Math.max(10, Math.min(TIMEOUT_CHECK_INTERVAL_MS, Math.floor(headersTimeoutMs / 4)));
  const server = createServer({ headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: checkingInterval }, (request, response) => {
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
