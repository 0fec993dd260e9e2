import { once } from "node:events";
import { connect, type Socket } from "node:net";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { close, createHttpServer, listen, type HttpApi } from "./http-server.js";
import { createLogger } from "./logger.js";
import { Metrics } from "./metrics.js";

const HEADERS_TIMEOUT_MS = 400;
const REQUEST_TIMEOUT_MS = 800;
/** What createHttpServer derives for these timeouts: a quarter of the headers timeout. */
const CHECK_INTERVAL_MS = HEADERS_TIMEOUT_MS / 4;
/**
 * Scheduling noise, generous for a loaded 2-core CI machine: what the tests tell apart is
 * "on time" from Node's default check every 30 s, which made these fire tens of seconds late.
 */
const SLACK_MS = 3_000;

/** An endpoint that reads the whole body before answering, as an upload does. */
const readsBody: HttpApi = {
  async handle(request, response, path) {
    if (path !== "/upload") return false;
    request.resume();
    await once(request, "end");
    response.writeHead(204).end();
    return true;
  },
};

let server: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  if (server) await close(server);
  server = undefined;
});

async function start(): Promise<number> {
  server = createHttpServer({
    metrics: new Metrics(),
    logger: createLogger("silent"),
    ready: () => true,
    apis: [readsBody],
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  return (await listen(server, "127.0.0.1", 0)).port;
}

/** Opens a raw connection; resolves with what the server sent and when it closed it. */
async function rawClient(port: number): Promise<{ socket: Socket; closed: Promise<{ answer: string; at: number }> }> {
  const socket = connect(port, "127.0.0.1");
  sockets.push(socket);
  let answer = "";
  socket.on("data", (chunk: Buffer) => {
    answer += chunk.toString("latin1");
  });
  const closed = new Promise<{ answer: string; at: number }>((resolve) => {
    socket.on("close", () => {
      resolve({ answer, at: performance.now() });
    });
  });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  return { socket, closed };
}

describe("HTTP server timeouts", () => {
  it("cut off a client that is slow to send its headers with 408, within a check interval of the headers timeout", async () => {
    const { socket, closed } = await rawClient(await start());
    const startedAt = performance.now();
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"); // and never the blank line
    const { answer, at } = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    const elapsed = at - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS);
  });

  it("cut off a request whose body trickles in with 408, within a check interval of the request timeout", async () => {
    const { socket, closed } = await rawClient(await start());
    const startedAt = performance.now();
    socket.write("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    // A byte every 50 ms: never idle, never done.
    const trickle = setInterval(() => socket.writable && socket.write("x"), 50);
    const { answer, at } = await closed;
    clearInterval(trickle);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    const elapsed = at - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS);
  });

  it("let a request that arrives in time through", async () => {
    const port = await start();
    const response = await fetch(`http://127.0.0.1:${String(port)}/upload`, { method: "POST", body: "x".repeat(1000) });
    expect(response.status).toBe(204);
  });
});
