import type { Duplex } from "node:stream";
import WebSocket from "ws";
import { CloseCode } from "../protocol/errors.js";
import type { ServerFrame } from "../protocol/frames.js";
import type { Metrics } from "../runtime/metrics.js";
import type { Session } from "../protocol/session.js";
import { TokenBucket } from "./token-bucket.js";

export type DisconnectReason =
  | "client_closed"
  | "slow_consumer"
  | "rate_limited"
  | "heartbeat_timeout"
  | "shutdown"
  | "frame_too_large"
  | "token_expired"
  | "error";

export interface ConnectionLimits {
  sendBufferBytes: number;
  framesPerSecond: number;
  frameBurst: number;
}

/** What a connection's queue starts from: one settled promise for all, not two per connection. */
const SETTLED: Promise<unknown> = Promise.resolve();
/** How long a closing connection may take to finish its close handshake before it is cut. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 5_000;

/**
 * One client's WebSocket as the gateway sees it: a bounded send path, a rate limit on
 * what it receives, and liveness for the heartbeat.
 */
export class ClientConnection {
  /** Set by a pong (or any frame); cleared when a ping goes out. */
  alive = true;
  closeReason: DisconnectReason | null = null;
  private readonly bucket: TokenBucket;
  private rejectedInARow = 0;
  /** Settles once every task enqueued so far has settled. */
  private allSettled: Promise<unknown> = SETTLED;
  /** Resolves once the last task enqueued has started. */
  private previousStarted: Promise<unknown> = SETTLED;
  private previousPipelined = false;
  private queued = 0;
  /** The TCP socket while this tick's writes are being gathered into one (see corkUntilNextTick). */
  private corkedSocket: Duplex | null = null;
  /** Every connection corked in this tick: one callback at its end uncorks them all. */
  private static corkedThisTick: ClientConnection[] = [];

  constructor(
    readonly socket: WebSocket,
    readonly session: Session,
    /** Epoch milliseconds of the token's `exp`: the connection may not outlive it. */
    readonly tokenExpiresAt: number,
    private readonly limits: ConnectionLimits,
    private readonly metrics: Metrics,
    /** Told when the gateway decides to close, which can be well before the socket closes. */
    private readonly onClosing: (reason: DisconnectReason) => void = () => undefined,
  ) {
    this.bucket = new TokenBucket(limits.framesPerSecond, limits.frameBurst);
  }

  /**
   * Queues a frame, unless the client has fallen so far behind that its unsent bytes
   * would pass the send buffer limit: then it is disconnected instead, since a client
   * that does not read would otherwise grow the gateway's memory without bound.
   */
  send(frame: ServerFrame): boolean {
    if (!this.sendEncoded(Buffer.from(JSON.stringify(frame)))) return false;
    this.metrics.framesSent.inc({ type: frame.type });
    return true;
  }

  /**
   * The same for a frame already encoded, so that a frame pushed to many connections is
   * serialised once and each socket gets the same bytes. The caller counts what it sent.
   */
  sendEncoded(encoded: Buffer): boolean {
    if (this.socket.readyState !== WebSocket.OPEN || this.closeReason !== null) return false;
    // Measured before this frame, so one large reply (a full sync page) always goes out
    // to a client that keeps up; memory stays bounded by the limit plus one frame.
    if (this.socket.bufferedAmount > this.limits.sendBufferBytes) {
      this.close(CloseCode.slowConsumer, "slow_consumer", "send buffer full: read faster or reconnect and sync");
      return false;
    }
    this.corkUntilNextTick();
    this.socket.send(encoded, { binary: false });
    return true;
  }

  /**
   * Frames written in one tick (the acks of one group commit, a burst of deliveries) leave
   * in one write system call instead of one each: the TCP socket under the WebSocket is
   * corked at the first and uncorked once the tick's work is done.
   */
  private corkUntilNextTick(): void {
    if (this.corkedSocket !== null) return;
    // ws keeps the TCP socket in a field its types do not show; without it, writes go
    // out one by one as before.
    const tcp = (this.socket as unknown as { _socket?: Duplex | null })._socket;
    if (!tcp) return;
    tcp.cork();
    this.corkedSocket = tcp;
    // One callback per tick, not one per connection: a fan-out corks thousands at once.
    if (ClientConnection.corkedThisTick.length === 0) process.nextTick(ClientConnection.uncorkAll);
    ClientConnection.corkedThisTick.push(this);
  }

  private static readonly uncorkAll = (): void => {
    const corked = ClientConnection.corkedThisTick;
    // Replaced first: a write made while these are uncorked corks again for the next tick.
    ClientConnection.corkedThisTick = [];
    for (const connection of corked) {
      const tcp = connection.corkedSocket;
      connection.corkedSocket = null;
      tcp?.uncork();
    }
  };

  /**
   * Admits one client frame against the rate limit. Returns the wait in milliseconds when
   * the frame is refused; a client that keeps sending while refused is disconnected.
   */
  admit(): { admitted: true } | { admitted: false; retryAfterMs: number } {
    if (this.bucket.tryTake()) {
      this.rejectedInARow = 0;
      return { admitted: true };
    }
    this.rejectedInARow += 1;
    if (this.rejectedInARow > this.limits.frameBurst) {
      this.close(CloseCode.rateLimitExceeded, "rate_limited", "rate limit exceeded");
    }
    return { admitted: false, retryAfterMs: this.bucket.msUntilNextToken() };
  }

  /**
   * Runs `task` in order with the connection's other frames. Refuses (returns false) once
   * `frameBurst` tasks wait, so a slow back end cannot grow the queue without bound.
   *
   * An ordinary task starts after every task enqueued before it has settled. A
   * `pipelined` one that follows another pipelined one starts as soon as that one has
   * started, so that a burst of sends shares a group commit instead of paying one durable
   * write each: they go through the same code and reach the store in the order sent, and
   * the stores keep their call order. Any other frame is a barrier both ways.
   */
  enqueue(task: () => Promise<unknown>, pipelined = false): boolean {
    if (this.queued >= this.limits.frameBurst) return false;
    this.queued += 1;
    const gate = pipelined && this.previousPipelined ? this.previousStarted : this.allSettled;
    let markStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const run = (): Promise<unknown> => {
      markStarted();
      return task().finally(() => {
        this.queued -= 1;
      });
    };
    const done = gate.then(run, run);
    this.allSettled = Promise.allSettled([this.allSettled, done]);
    this.previousStarted = started;
    this.previousPipelined = pipelined;
    return true;
  }

  tokenExpired(now: number = Date.now()): boolean {
    return now >= this.tokenExpiresAt;
  }

  close(code: number, reason: DisconnectReason, text: string): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    this.onClosing(reason);
    this.socket.close(code, text);
    setTimeout(() => {
      this.socket.terminate();
    }, CLOSE_HANDSHAKE_TIMEOUT_MS).unref();
  }

  terminate(reason: DisconnectReason): void {
    this.closeReason ??= reason;
    this.socket.terminate();
  }
}
