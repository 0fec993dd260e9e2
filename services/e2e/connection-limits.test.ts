import { once } from "node:events";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CloseCode } from "../protocol/errors.js";
import type { ServerFrame } from "../protocol/frames.js";
import type { WebSocketConstructor } from "../sdk/index.js";
import { RawConnection, UpgradeRefusedError } from "./support/raw-connection.js";
import { platformPerTest, type TestPlatform } from "./support/test-platform.js";

const start = platformPerTest();

/** A bare WebSocket, for what the well-behaved client library will not do. */
async function rawSocket(p: TestPlatform, userId: string, options: WebSocket.ClientOptions = {}): Promise<{ socket: WebSocket; frames: ServerFrame[]; next: () => Promise<ServerFrame> }> {
  const socket = new WebSocket(p.websocketUrl, { headers: { Authorization: `Bearer ${await p.token(userId)}` }, ...options });
  const frames: ServerFrame[] = [];
  const waiting: ((frame: ServerFrame) => void)[] = [];
  socket.on("message", (data) => {
    const frame = JSON.parse((data as Buffer).toString()) as ServerFrame;
    const waiter = waiting.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  const next = (): Promise<ServerFrame> => {
    const queued = frames.shift();
    return queued ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
  };
  await once(socket, "open");
  expect((await next()).type).toBe("hello");
  return { socket, frames, next };
}

function connectWithToken(p: TestPlatform, token: string): Promise<RawConnection> {
  return RawConnection.open({ url: p.websocketUrl, token });
}

describe("authentication on upgrade", () => {
  it("refuses a missing, malformed, foreign or expired token with HTTP 401 before the upgrade", async () => {
    const p = await start();
    const noToken = new WebSocket(p.websocketUrl);
    const [, response] = (await once(noToken, "unexpected-response")) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(401);

    await expect(connectWithToken(p, "not-a-jwt")).rejects.toMatchObject({ status: 401 });

    const foreign = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setIssuer("parley").setExpirationTime("1h").sign(new TextEncoder().encode("some-other-secret-of-at-least-32-bytes!"));
    await expect(connectWithToken(p, foreign)).rejects.toMatchObject({ status: 401 });

    const expired = await p.tokens.issue("alice", 0);
    const refusal = await connectWithToken(p, expired).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(UpgradeRefusedError);
    expect((refusal as UpgradeRefusedError).body).toContain("token expired");
  });

  it("accepts the token as a subprotocol, as browsers send it, and answers with parley.v1", async () => {
    const p = await start();
    // The SDK sends the token as a subprotocol, as browsers must.
    const client = await p.open("alice");
    expect(client.hello?.userId).toBe("alice");
    const socket = new WebSocket(p.websocketUrl, ["parley.v1", `parley.bearer.${await p.token("bob")}`]);
    await once(socket, "open");
    expect(socket.protocol).toBe("parley.v1");
    socket.close();
  });

  it("refuses a client that offers no protocol version it speaks", async () => {
    const p = await start();
    const socket = new WebSocket(p.websocketUrl, ["parley.v99", `parley.bearer.${await p.token("bob")}`]);
    const [, response] = (await once(socket, "unexpected-response")) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(400);
  });
});

describe("bad frames", () => {
  it("answers each with a typed error and keeps the connection", async () => {
    const p = await start();
    const { socket, next } = await rawSocket(p, "alice");
    socket.send("{not json");
    expect(await next()).toMatchObject({ type: "error", code: "malformed_frame" });
    socket.send(JSON.stringify({ type: "teleport", id: "r1" }));
    expect(await next()).toMatchObject({ type: "error", id: "r1", code: "unsupported_frame" });
    socket.send(JSON.stringify({ type: "send", id: "r2", to: "bob", clientMessageId: "c1", body: { text: 5 } }));
    const invalid = await next();
    expect(invalid).toMatchObject({ type: "error", id: "r2", code: "invalid_frame" });
    expect((invalid as { message: string }).message).toContain("body.text");
    socket.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await next()).toMatchObject({ type: "error", code: "unsupported_frame" });
    socket.send(JSON.stringify({ type: "ping", id: "still-here" }));
    expect(await next()).toEqual({ type: "pong", id: "still-here" });
  });

  it("answers a 12 KB frame nested 6,000 deep with an error, and every client stays connected", async () => {
    const p = await start();
    const attacker = await rawSocket(p, "mallory");
    const bystander = await rawSocket(p, "alice");
    attacker.socket.send(`{"type":${"[".repeat(6_000)}${"]".repeat(6_000)}}`);
    expect(await attacker.next()).toMatchObject({ type: "error", code: "unsupported_frame" });
    attacker.socket.send(JSON.stringify({ type: "ping", id: "attacker" }));
    expect(await attacker.next()).toEqual({ type: "pong", id: "attacker" });
    bystander.socket.send(JSON.stringify({ type: "ping", id: "bystander" }));
    expect(await bystander.next()).toEqual({ type: "pong", id: "bystander" });
  });

  it("closes the connection with 1009 on a frame over the size limit", async () => {
    const p = await start({ maxFrameBytes: 4096 });
    const { socket } = await rawSocket(p, "alice");
    socket.send(JSON.stringify({ type: "ping", id: "x".repeat(5000) }));
    const [code] = (await once(socket, "close")) as [number];
    expect(code).toBe(CloseCode.messageTooBig);
  });
});

describe("rate limit", () => {
  it("refuses frames over the limit with retryAfterMs, then disconnects a client that keeps going", async () => {
    const p = await start({ framesPerSecond: 1, frameBurst: 3 });
    const { socket, next } = await rawSocket(p, "alice");
    for (let i = 0; i < 4; i++) socket.send(JSON.stringify({ type: "ping", id: `p${i}` }));
    expect(await next()).toEqual({ type: "pong", id: "p0" });
    expect(await next()).toEqual({ type: "pong", id: "p1" });
    expect(await next()).toEqual({ type: "pong", id: "p2" });
    const limited = await next();
    expect(limited).toMatchObject({ type: "error", id: "p3", code: "rate_limited" });
    expect((limited as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);

    const closed = once(socket, "close");
    for (let i = 0; i < 10; i++) socket.send(JSON.stringify({ type: "ping", id: `flood${i}` }));
    const [code] = (await closed) as [number];
    expect(code).toBe(CloseCode.rateLimitExceeded);
  });
});

describe("slow readers", () => {
  it("are disconnected with 4000 once their send buffer is full, instead of growing memory", async () => {
    const p = await start({ sendBufferBytes: 64 * 1024 });
    const alice = await p.open("alice");
    const text = "x".repeat(4000);
    for (let i = 0; i < 50; i++) await alice.send("bob", text);

    const reader = await RawConnection.open({ url: p.websocketUrl, token: await p.token("bob") });
    const closing = once(p.gateway, "closing");
    reader.pauseReading();
    // Each history page is ~200 KB; a reader that does not read cannot keep up.
    for (let i = 0; i < 40; i++) void reader.request({ type: "history", conversationId: "dm:alice:bob", limit: 50 }).catch(() => undefined);
    const [session, reason] = (await closing) as [{ userId: string }, string];
    expect(session.userId).toBe("bob");
    expect(reason).toBe("slow_consumer");

    const closed = once(reader, "close");
    reader.resumeReading();
    const [code] = (await closed) as [number];
    expect(code).toBe(CloseCode.slowConsumer);
    // The sender is unaffected.
    expect((await alice.send("bob", "still fine")).seq).toBe(51);
  });
});

describe("heartbeats", () => {
  it("close a connection that stops answering pings", async () => {
    const p = await start({ heartbeatIntervalMs: 100 });
    const { socket } = await rawSocket(p, "alice", { autoPong: false });
    const [session, reason] = (await once(p.gateway, "disconnect")) as [{ userId: string }, string];
    expect(session.userId).toBe("alice");
    expect(reason).toBe("heartbeat_timeout");
    socket.terminate();
  });

  it("keep a connection that answers them", async () => {
    const p = await start({ heartbeatIntervalMs: 100 });
    // Count the server's pings through the client's socket (the SDK's `ws` answers them).
    const sockets: WebSocket[] = [];
    const Recording = class extends WebSocket {
      constructor(url: string, protocols: string[]) {
        super(url, protocols, { perMessageDeflate: false });
        sockets.push(this);
      }
    } as unknown as WebSocketConstructor;
    const client = await p.open("alice", { WebSocket: Recording });
    const socket = sockets[0];
    if (!socket) throw new Error("the client opened no socket");
    let pings = 0;
    await new Promise<void>((resolve) => {
      socket.on("ping", () => {
        if (++pings === 4) resolve();
      });
    });
    expect(client.state).toBe("open");
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect((await client.send("bob", "alive")).seq).toBe(1);
  });
});

describe("graceful shutdown", () => {
  it("tells clients to reconnect, then closes with 1012", async () => {
    const p = await start({ shutdownGraceMs: 2000 });
    const client = await p.open("alice");
    const reconnect = client.next("reconnect");
    const closed = client.next("close");
    const stopped = p.stop();
    const [{ retryAfterMs }] = await reconnect;
    expect(retryAfterMs).toBeGreaterThanOrEqual(0);
    expect(retryAfterMs).toBeLessThanOrEqual(2000);
    const [{ code }] = await closed;
    expect(code).toBe(CloseCode.serviceRestart);
    await stopped;
  });
});
