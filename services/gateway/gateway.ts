import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { randomUUID } from "node:crypto";
import WebSocket, { WebSocketServer } from "ws";
import type { TokenAuthority, TokenClaims } from "../auth/tokens.js";
import { InvalidTokenError } from "../auth/tokens.js";
import { DeliveryEnvelope } from "../events/delivery-envelope.js";
import { activityTopic } from "../events/topics.js";
import type { DeliveryChannel } from "../ports/delivery-channel.js";
import type { ConnectionRegistry, DeviceRoute } from "../ports/connection-registry.js";
import { type EventBus, type JsonValue, publishTo } from "../ports/event-bus.js";
import { CloseCode, ErrorCode, ProtocolError } from "../protocol/errors.js";
import { MAX_PAGE_SIZE, MAX_TEXT_LENGTH, PROTOCOL_SUBPROTOCOL, PROTOCOL_VERSION } from "../protocol/frames.js";
import { DeviceId } from "../protocol/ids.js";
import { parseClientFrame } from "../protocol/parse.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import { ClientConnection, type DisconnectReason } from "./client-connection.js";
import type { ActivityEvent, ActivityKind } from "../events/activity-event.js";
import type { FrameHandler } from "../ports/frame-handler.js";
import type { Session } from "../protocol/session.js";
import { readUpgradeCredentials } from "./upgrade-auth.js";
import { checkUserLimits, LocalUserConnections, type UserLimitRefusal } from "./user-limits.js";

export interface GatewayOptions {
  gatewayId: string;
  clusterName: string;
  maxFrameBytes: number;
  framesPerSecond: number;
  frameBurst: number;
  sendBufferBytes: number;
  maxConnections: number;
  /** Counted across the cluster through the connection registry (see checkUserLimits). */
  maxConnectionsPerUser: number;
  maxDevicesPerUser: number;
  /** Tokens that live longer (exp - iat) are refused at the upgrade. */
  maxTokenLifetimeSeconds: number;
  heartbeatIntervalMs: number;
  shutdownGraceMs: number;
  maxGroupMembers: number;
}

export interface GatewayDependencies {
  registry: ConnectionRegistry;
  /** Where frames for this gateway's connections arrive. */
  deliveries: DeliveryChannel;
  /** Where activity (connects, heartbeats, typing...) goes. */
  bus: EventBus;
  tokens: TokenAuthority;
  handler: FrameHandler;
  metrics: Metrics;
  logger: Logger;
}

export interface GatewayEvents {
  connect: [session: Session];
  /** The gateway decided to close a connection (a slow reader may take a while to see it). */
  closing: [session: Session, reason: DisconnectReason];
  disconnect: [session: Session, reason: DisconnectReason];
}

/** Route entries outlive three missed heartbeat rounds, then expire. */
const ROUTE_TTL_HEARTBEATS = 3;
/** How often lapsed tokens are looked for: a connection outlives its `exp` by at most this. */
const TOKEN_EXPIRY_SWEEP_MS = 1_000;

/**
 * Holds client WebSocket connections: authenticates the upgrade, registers each device
 * in the connection registry, hands client frames to the services and writes back what
 * the delivery channel brings. It keeps connections healthy (heartbeats, rate limits,
 * bounded send buffers) and drains them on shutdown.
 */
export class Gateway extends EventEmitter<GatewayEvents> {
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, ClientConnection>();
  /** Per user: this gateway's connections, and upgrades past their token check. */
  private readonly userConnections = new LocalUserConnections();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Connections that have had their hello: from then on their token's expiry closes them. */
  private readonly expiryWatched = new Set<ClientConnection>();
  /** This turn's sends and reads per connection, not yet published (countActivity). */
  private countedActivity = new Map<ClientConnection, { send: number; read: number }>();
  private listener: { stop(): Promise<void> } | undefined;
  private draining = false;

  constructor(
    private readonly options: GatewayOptions,
    private readonly deps: GatewayDependencies,
  ) {
    super();
    this.wss = new WebSocketServer({
      noServer: true,
      // Explicit limits: the library defaults were the subject of a 2026 advisory.
      maxPayload: options.maxFrameBytes,
      maxFragments: 64,
      maxBufferedChunks: 256,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (offered) => (offered.has(PROTOCOL_SUBPROTOCOL) ? PROTOCOL_SUBPROTOCOL : false),
    } as WebSocket.ServerOptions);
  }

  get gatewayId(): string {
    return this.options.gatewayId;
  }

  get ready(): boolean {
    return this.listener !== undefined && !this.draining;
  }

  async start(): Promise<void> {
    this.listener = await this.deps.deliveries.listen(this.options.gatewayId, (envelope) => {
      this.deliver(envelope);
    });
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    this.expiryTimer = setInterval(this.expireLapsedTokens, TOKEN_EXPIRY_SWEEP_MS);
    this.expiryTimer.unref();
  }

  /** Handles an HTTP upgrade request for the WebSocket endpoint. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    void this.authenticateAndUpgrade(request, socket, head);
  }

  /**
   * Tells every client to reconnect elsewhere (after a random wait, so they do not all
   * arrive at once), closes the connections, and waits up to the grace period for them.
   */
  async shutdown(): Promise<void> {
    this.draining = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    const closed = [...this.connections.values()].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.socket.readyState === WebSocket.CLOSED) {
            resolve();
            return;
          }
          connection.socket.once("close", () => {
            resolve();
          });
          connection.send({
            type: "reconnect",
            reason: "shutdown",
            retryAfterMs: Math.floor(Math.random() * Math.min(5_000, this.options.shutdownGraceMs + 1)),
          });
          connection.close(CloseCode.serviceRestart, "shutdown", "server shutting down: reconnect");
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.shutdownGraceMs);
    });
    await Promise.race([Promise.all(closed), grace]);
    clearTimeout(timer);
    for (const connection of this.connections.values()) connection.terminate("shutdown");
    await this.listener?.stop();
    this.listener = undefined;
  }

  private async authenticateAndUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.draining || this.connections.size >= this.options.maxConnections) {
      this.refuse(socket, 503, this.draining ? "gateway is shutting down" : "gateway is at its connection limit");
      return;
    }
    const credentials = readUpgradeCredentials(request);
    if (!credentials.ok) {
      this.refuse(socket, credentials.status, credentials.reason);
      return;
    }
    const deviceId = DeviceId.safeParse(credentials.deviceId ?? `device-${randomUUID()}`);
    if (!deviceId.success) {
      this.refuse(socket, 400, `invalid device query parameter: ${deviceId.error.issues[0]?.message ?? "invalid"}`);
      return;
    }
    let claims: TokenClaims;
    try {
      claims = await this.deps.tokens.verify(credentials.token, { maxLifetimeSeconds: this.options.maxTokenLifetimeSeconds });
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) this.deps.logger.error({ err: error }, "token verification failed");
      this.refuse(socket, 401, error instanceof InvalidTokenError ? error.message : "invalid token");
      return;
    }
    if (socket.destroyed) return;
    const session: Session = { userId: claims.userId, deviceId: deviceId.data, connectionId: randomUUID(), gatewayId: this.options.gatewayId };
    // A number, not the claims: what the closures below hold lives as long as the connection.
    const tokenExpiresAt = claims.expiresAt.getTime();
    // Counted before the registry is asked, so racing upgrades of one user here see each
    // other; released when the TCP connection ends before it is upgraded (once upgraded,
    // the WebSocket's close handler releases it, and this listener goes).
    this.userConnections.hold(session.userId, session.connectionId, session.deviceId);
    const releaseHold = (): void => {
      this.userConnections.release(session.userId, session.connectionId);
    };
    socket.once("close", releaseHold);
    const overLimit = await this.checkUserLimits(session);
    if (overLimit) {
      this.userConnections.release(session.userId, session.connectionId);
      this.refuse(socket, 429, overLimit.message, { limit: overLimit.limit, max: overLimit.max });
      return;
    }
    // The client may have gone while the registry answered (its hold is released then).
    if (!socket.writable) return;
    // When the registry answers at once (the embedded one), the 101 response and the hello
    // leave in one write instead of two: each write costs a system call and, on loopback,
    // the receiving side's TCP work too. A slower registry does not hold the 101 back
    // beyond this turn of the event loop.
    socket.cork();
    setImmediate(() => {
      socket.uncork();
    });
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      socket.removeListener("close", releaseHold);
      void this.accept(ws, session, tokenExpiresAt);
    });
  }

  /**
   * The user's connections across the cluster: other gateways' routes from the registry
   * (one read of one small sorted set in Redis, O(devices of the user), so the cap is
   * cluster-wide rather than per process) plus this gateway's own, counted exactly here.
   * Upgrades racing on different gateways can each pass before the other registers, so the
   * cluster-wide count may overshoot by the number of simultaneous upgrades; routes of a
   * gateway that died count until they expire (three heartbeat rounds). When the registry
   * cannot answer, only this gateway's connections are counted.
   */
  private async checkUserLimits(session: Session): Promise<UserLimitRefusal | null> {
    let elsewhere: DeviceRoute[] = [];
    try {
      elsewhere = (await this.deps.registry.routesFor(session.userId)).filter((route) => route.gatewayId !== this.options.gatewayId);
    } catch (error) {
      this.deps.logger.warn({ err: error }, "could not count the user's connections on other gateways");
    }
    const held = [...elsewhere, ...this.userConnections.heldBy(session.userId, session.connectionId)];
    return checkUserLimits(held, session.deviceId, this.options);
  }

  private refuse(socket: Duplex, status: 400 | 401 | 429 | 503, reason: string, details: Record<string, string | number> = {}): void {
    this.deps.metrics.upgradesRejected.inc({ status: String(status) });
    const statusText = { 400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests", 503: "Service Unavailable" }[status];
    const body = JSON.stringify({ error: reason, ...details });
    socket.end(
      `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        (status === 401 ? 'WWW-Authenticate: Bearer realm="parley"\r\n' : "") +
        `\r\n${body}`,
    );
  }

  private async accept(ws: WebSocket, session: Session, tokenExpiresAt: number): Promise<void> {
    const connection = new ClientConnection(ws, session, tokenExpiresAt, this.options, this.deps.metrics, (reason) => {
      this.notify("closing", session, reason);
    });
    const route = this.routeOf(session);
    this.connections.set(session.connectionId, connection);
    this.deps.metrics.connections.set(this.connections.size);

    // The same four listener functions for every connection (see socketListeners).
    connectionOf.set(ws, connection);
    ws.on("pong", this.socketListeners.pong);
    ws.on("message", this.socketListeners.message);
    ws.on("error", this.socketListeners.error);
    ws.on("close", this.socketListeners.close);

    try {
      await this.deps.registry.register(route, this.routeTtlMs());
    } catch (error) {
      this.deps.logger.error({ err: error }, "could not register connection");
      connection.close(CloseCode.internalError, "error", "connection registry unavailable");
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) {
      // The client left while its route was being registered: the close handler has run
      // and could not remove what was not there yet. Without this the route would linger
      // (counted against the user's caps, delivered to) and no hello or expiry watch is wanted.
      this.deps.registry.unregister(route).catch((error: unknown) => {
        this.deps.logger.warn({ err: error, connectionId: session.connectionId }, "could not unregister route");
      });
      return;
    }
    this.expiryWatched.add(connection);
    connection.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      userId: session.userId,
      deviceId: session.deviceId,
      connectionId: session.connectionId,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      limits: {
        maxFrameBytes: this.options.maxFrameBytes,
        framesPerSecond: this.options.framesPerSecond,
        frameBurst: this.options.frameBurst,
        maxTextLength: MAX_TEXT_LENGTH,
        maxPageSize: MAX_PAGE_SIZE,
        maxGroupMembers: this.options.maxGroupMembers,
      },
      tokenExpiresAt: new Date(tokenExpiresAt).toISOString(),
    });
    this.publishActivity(session, "connect");
    this.notify("connect", session);
  }

  /**
   * The WebSocket listeners, made once: ws calls them with the socket as `this`, and the
   * connection is found in `connectionOf`. Four closures (and their scope) per connection
   * would be retained for its whole life.
   */
  private readonly socketListeners: SocketListeners = ((gateway: Gateway): SocketListeners => ({
    pong: function (this: WebSocket): void {
      const connection = connectionOf.get(this);
      if (connection) connection.alive = true;
    },
    message: function (this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
      const connection = connectionOf.get(this);
      if (!connection) return;
      connection.alive = true;
      // Nothing a client sends may stop the process: a throw here would escape to the
      // socket's emitter and end it, dropping every client. The connection alone pays.
      try {
        gateway.receive(connection, data, isBinary);
      } catch (error) {
        gateway.deps.logger.error({ err: error, connectionId: connection.session.connectionId }, "frame handling failed");
        connection.close(CloseCode.internalError, "error", "internal error");
      }
    },
    error: function (this: WebSocket, error: Error): void {
      const connection = connectionOf.get(this);
      if (!connection) return;
      // ws reports oversized frames as errors and then closes with 1009.
      const tooLarge = "code" in error && error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
      connection.closeReason ??= tooLarge ? "frame_too_large" : "error";
      gateway.deps.logger.debug({ err: error, connectionId: connection.session.connectionId }, "connection error");
    },
    close: function (this: WebSocket): void {
      const connection = connectionOf.get(this);
      if (connection) gateway.closed(connection);
    },
  }))(this);

  /** The WebSocket of `connection` has closed: its route, counts and events go. */
  private closed(connection: ClientConnection): void {
    const session = connection.session;
    this.expiryWatched.delete(connection);
    this.userConnections.release(session.userId, session.connectionId);
    this.connections.delete(session.connectionId);
    this.deps.metrics.connections.set(this.connections.size);
    const reason = connection.closeReason ?? "client_closed";
    this.deps.metrics.disconnects.inc({ reason });
    this.notify("disconnect", session, reason);
    this.publishActivity(session, "disconnect");
    this.deps.registry.unregister(this.routeOf(session)).catch((error: unknown) => {
      this.deps.logger.warn({ err: error, connectionId: session.connectionId }, "could not unregister route");
    });
  }

  /**
   * Closes the connections whose token's `exp` has passed, every TOKEN_EXPIRY_SWEEP_MS.
   * One sweep for all rather than a timer per connection: a timer and its closure are a
   * few hundred bytes for every idle connection and some CPU at every connect, while the
   * sweep is one comparison per connection a second. Frames are also checked on arrival
   * (`tokenExpired`), so nothing a client sends is handled past `exp` in the meantime.
   */
  private readonly expireLapsedTokens = (): void => {
    const now = Date.now();
    for (const connection of this.expiryWatched) {
      if (connection.closeReason === null && connection.tokenExpired(now)) this.expire(connection);
    }
  };

  /** Tells the client to get a new token, then closes with 4001. */
  private expire(connection: ClientConnection): void {
    connection.send({ type: "reauthenticate", reason: "token_expired", expiredAt: new Date(connection.tokenExpiresAt).toISOString() });
    connection.close(CloseCode.tokenExpired, "token_expired", "token expired: reconnect with a new token");
  }

  private receive(connection: ClientConnection, data: WebSocket.RawData, isBinary: boolean): void {
    // The expiry sweep runs once a second (and may lag a busy event loop); nothing is handled past `exp`.
    if (connection.tokenExpired()) {
      this.expire(connection);
      return;
    }
    const parsed = isBinary ? null : parseClientFrame(rawToString(data));
    const requestId = parsed === null ? undefined : parsed.ok ? parsed.frame.id : parsed.requestId;
    const admission = connection.admit();
    if (!admission.admitted) {
      this.deps.metrics.framesReceived.inc({ type: "rate_limited" });
      connection.send({
        type: "error",
        ...(requestId === undefined ? {} : { id: requestId }),
        code: ErrorCode.rateLimited,
        message: "too many frames: wait and retry",
        retryAfterMs: admission.retryAfterMs,
      });
      return;
    }
    if (parsed === null) {
      this.deps.metrics.framesReceived.inc({ type: "invalid" });
      connection.send({ type: "error", code: ErrorCode.unsupportedFrame, message: "binary frames are not supported: send JSON text" });
      return;
    }
    if (!parsed.ok) {
      this.deps.metrics.framesReceived.inc({ type: "invalid" });
      connection.send({
        type: "error",
        ...(requestId === undefined ? {} : { id: requestId }),
        code: parsed.error.code,
        message: parsed.error.message,
      });
      return;
    }
    const frame = parsed.frame;
    this.deps.metrics.framesReceived.inc({ type: frame.type });
    if (frame.type === "ping") {
      connection.send({ type: "pong", id: frame.id });
      return;
    }
    if (frame.type === "typing") {
      // Ephemeral: published for the presence service, never stored.
      this.publishActivity(connection.session, "typing", frame.conversationId);
      connection.send({ type: "ok", id: frame.id });
      return;
    }
    if (frame.type === "send" || frame.type === "group.send") this.countActivity(connection, "send");
    if (frame.type === "receipt" && frame.kind === "read") this.countActivity(connection, "read");
    // In order per connection, so a device's sends are stored in the order sent; plain 1:1
    // sends (no attachment to check first, so every one takes the same path to the store)
    // are pipelined so that a burst of them shares one durable commit.
    const pipelined = frame.type === "send" && frame.body.assets === undefined;
    const accepted = connection.enqueue(() =>
      this.deps.handler.handle(connection.session, frame).then(
        (reply) => connection.send(reply),
        (error: unknown) => {
          if (!(error instanceof ProtocolError)) {
            this.deps.logger.error({ err: error, frameType: frame.type, connectionId: connection.session.connectionId }, "frame handler failed");
          }
          const known = error instanceof ProtocolError;
          connection.send({
            type: "error",
            id: frame.id,
            code: known ? error.code : ErrorCode.internal,
            message: known ? error.message : "internal error: the request may not have been applied, retry it",
          });
        },
      ),
      pipelined,
    );
    if (!accepted) {
      connection.send({ type: "error", id: frame.id, code: ErrorCode.rateLimited, message: "too many requests in flight: wait for replies", retryAfterMs: 100 });
    }
  }

  private deliver(value: JsonValue): void {
    const envelope = DeliveryEnvelope.safeParse(value);
    if (!envelope.success) {
      this.deps.logger.error("dropped a malformed delivery envelope");
      return;
    }
    const { connectionIds, storedAt, frame } = envelope.data;
    // Encoded once; every connection gets the same bytes.
    const encoded = Buffer.from(JSON.stringify(frame));
    let sent = 0;
    for (const connectionId of connectionIds) {
      if (this.connections.get(connectionId)?.sendEncoded(encoded)) sent += 1;
    }
    if (sent === 0) return;
    // Counted and observed once per envelope: every connection in it got the frame at the
    // same moment, and a histogram update per connection was a fan-out's per-member cost.
    this.deps.metrics.framesSent.inc({ type: frame.type }, sent);
    if (storedAt === undefined) return;
    this.deps.metrics.deliveryLatency.observe({ frame: frame.type }, Math.max(0, Date.now() - storedAt) / 1000);
  }

  private async heartbeat(): Promise<void> {
    const live: DeviceRoute[] = [];
    for (const connection of this.connections.values()) {
      if (!connection.alive) {
        connection.terminate("heartbeat_timeout");
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
      live.push(this.routeOf(connection.session));
      this.publishActivity(connection.session, "heartbeat");
    }
    try {
      await this.deps.registry.refresh(live, this.routeTtlMs());
    } catch (error) {
      this.deps.logger.warn({ err: error }, "could not refresh routes");
    }
  }

  private routeOf(session: Session): DeviceRoute {
    return { userId: session.userId, deviceId: session.deviceId, connectionId: session.connectionId, gatewayId: session.gatewayId };
  }

  /**
   * Sends and reads are counted per connection and published once per turn of the event
   * loop, with their count: a burst of a hundred sends is one event on the bus, not a
   * hundred, and the activity scores still add up every one.
   */
  private countActivity(connection: ClientConnection, kind: "send" | "read"): void {
    if (this.countedActivity.size === 0) setImmediate(this.publishCountedActivity);
    let counts = this.countedActivity.get(connection);
    if (counts === undefined) {
      counts = { send: 0, read: 0 };
      this.countedActivity.set(connection, counts);
    }
    counts[kind] += 1;
  }

  private readonly publishCountedActivity = (): void => {
    const counted = this.countedActivity;
    this.countedActivity = new Map();
    for (const [connection, counts] of counted) {
      if (counts.send > 0) this.publishActivity(connection.session, "send", undefined, counts.send);
      if (counts.read > 0) this.publishActivity(connection.session, "read", undefined, counts.read);
    }
  };

  /** Fire and forget: activity feeds presence and activity scores, never a reply. */
  private publishActivity(session: Session, kind: ActivityKind, conversationId?: string, count = 1): void {
    const event: ActivityEvent = {
      ...this.routeOf(session),
      kind,
      at: Date.now(),
      ...(conversationId === undefined ? {} : { conversationId }),
      ...(count === 1 ? {} : { count }),
    };
    publishTo(this.deps.bus, activityTopic(this.options.clusterName), session.userId, event).catch((error: unknown) => {
      this.deps.logger.warn({ err: error, kind }, "could not publish activity");
    });
  }

  /**
   * Emits to the embedder's listeners. Their throw must not escape: from a socket's close
   * handler or a timer it would end the process (every client with it), and it would skip
   * the clean-up after the emit (the route, the activity event).
   */
  private notify<K extends keyof GatewayEvents>(event: K, ...args: GatewayEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: GatewayEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.deps.logger.error({ err: error, event }, "a gateway event listener threw");
    }
  }

  private routeTtlMs(): number {
    return this.options.heartbeatIntervalMs * ROUTE_TTL_HEARTBEATS;
  }
}

/** Listeners ws calls with the WebSocket as `this`. */
interface SocketListeners {
  pong: (this: WebSocket) => void;
  message: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void;
  error: (this: WebSocket, error: Error) => void;
  close: (this: WebSocket) => void;
}

/** Each accepted WebSocket's connection, for the shared socket listeners. */
const connectionOf = new WeakMap<WebSocket, ClientConnection>();

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}
