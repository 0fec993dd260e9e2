import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { ErrorCode } from "../protocol/errors.js";
import {
  BEARER_SUBPROTOCOL_PREFIX,
  PROTOCOL_SUBPROTOCOL,
  type ClientFrame,
  type InboxEvent,
  type Message,
  type PresenceView,
  type PushFrame,
  type Receipt,
  type ReceiptKind,
  type ServerFrame,
} from "../protocol/frames.js";

export interface ConnectOptions {
  /** ws://host:port/ws */
  url: string;
  token: string;
  deviceId?: string;
  /** `header` (Authorization: Bearer), or `subprotocol` as a browser would. Default header. */
  auth?: "header" | "subprotocol";
  /** Last inbox cursor this device processed; events after it are synced on connect. Default 0. */
  cursor?: number;
  /** Sync on connect and whenever a gap in live events shows something was missed. Default true. */
  autoSync?: boolean;
  /** Listener for inbox events, attached before the first sync so it misses none. */
  onEvent?: (event: InboxEvent) => void;
}

type HelloFrame = Extract<ServerFrame, { type: "hello" }>;
type ReplyFrame = Exclude<ServerFrame, PushFrame | { type: "hello" | "reconnect" | "reauthenticate" }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface ClientEvents {
  /** Each inbox event exactly once, in cursor order. */
  event: [event: InboxEvent];
  /** Group messages pushed live (realtime) or held and sent together (batched). */
  groupMessages: [messages: Message[], tier: "realtime" | "batched"];
  presence: [presence: PresenceView];
  typing: [conversationId: string, userId: string];
  reconnect: [retryAfterMs: number];
  /** The token expired (at `expiredAt`); the server closes with 4001 next. Connect again with a new token. */
  reauthenticate: [expiredAt: string];
  close: [code: number, reason: string];
  /** An error frame that answers no request of this client (for example a rate limit on a raw frame). */
  serverError: [error: ParleyRequestError];
  /** A socket or sync failure. Like any Node.js "error" event, it throws when nobody listens. */
  error: [error: Error];
}

/** An error frame the server sent in reply to a request. */
export class ParleyRequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(`${code}: ${message}`);
    this.name = "ParleyRequestError";
  }
}

/**
 * A Parley protocol client for Node.js: the reference for docs/protocol.md, and what the
 * CLI, the tests and the benchmarks use. It hands on every inbox event exactly once and
 * in order, syncing across gaps, so `cursor` is always safe to persist.
 */
export class ParleyClient extends EventEmitter<ClientEvents> {
  /** Highest inbox cursor handed on: every event up to it has been emitted. */
  cursor: number;
  private readonly pending = new Map<string, { resolve: (frame: ReplyFrame) => void; reject: (error: Error) => void }>();
  private syncing: Promise<void> | null = null;
  private resyncWanted = false;

  private constructor(
    private readonly socket: WebSocket,
    readonly hello: HelloFrame,
    cursor: number,
    private readonly autoSync: boolean,
  ) {
    super();
    this.cursor = cursor;
    socket.on("message", (data) => {
      this.receive(decode(data));
    });
    socket.on("close", (code, reason) => {
      for (const { reject } of this.pending.values()) reject(new Error(`connection closed (${code})`));
      this.pending.clear();
      this.emit("close", code, reason.toString());
    });
  }

  /** Opens a connection and resolves once the server's hello has arrived (and the first sync is done). */
  static async connect(options: ConnectOptions): Promise<ParleyClient> {
    const url = new URL(options.url);
    if (options.deviceId !== undefined) url.searchParams.set("device", options.deviceId);
    const viaSubprotocol = options.auth === "subprotocol";
    const socket = new WebSocket(
      url,
      viaSubprotocol ? [PROTOCOL_SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX + options.token] : [PROTOCOL_SUBPROTOCOL],
      {
        headers: viaSubprotocol ? {} : { Authorization: `Bearer ${options.token}` },
        maxPayload: 16 * 1024 * 1024,
        perMessageDeflate: false,
      },
    );
    const hello = await new Promise<HelloFrame>((resolve, reject) => {
      socket.once("unexpected-response", (_request, response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => {
          reject(new UpgradeRefusedError(response.statusCode ?? 0, body));
        });
      });
      socket.once("error", reject);
      socket.once("close", (code) => {
        reject(new Error(`connection closed before hello (${code})`));
      });
      socket.once("message", (data) => {
        const frame = decode(data);
        if (frame.type === "hello") resolve(frame);
        else reject(new Error(`expected hello, got ${frame.type}`));
      });
    });
    socket.removeAllListeners();
    const client = new ParleyClient(socket, hello, options.cursor ?? 0, options.autoSync ?? true);
    socket.on("error", (error) => client.emit("error", error));
    if (options.onEvent) client.on("event", options.onEvent);
    if (client.autoSync) await client.sync();
    return client;
  }

  get userId(): string {
    return this.hello.userId;
  }

  get readyState(): number {
    return this.socket.readyState;
  }

  /** Sends a text message; resolves with the stored message once the server acked it. */
  async send(to: string, text: string, clientMessageId: string = randomUUID()): Promise<{ message: Message; duplicate: boolean }> {
    const reply = await this.request({ type: "send", to, clientMessageId, body: { text } });
    const ack = expectReply(reply, "ack");
    return { message: ack.message, duplicate: ack.duplicate };
  }

  /** Posts to a group; resolves with the stored message once the server acked it. */
  async groupSend(groupId: string, text: string, clientMessageId: string = randomUUID()): Promise<{ message: Message; duplicate: boolean }> {
    const ack = expectReply(await this.request({ type: "group.send", groupId, clientMessageId, body: { text } }), "ack");
    return { message: ack.message, duplicate: ack.duplicate };
  }

  async receipt(conversationId: string, kind: ReceiptKind, upToSeq: number): Promise<{ receipt: Receipt; changed: boolean }> {
    const reply = expectReply(await this.request({ type: "receipt", conversationId, kind, upToSeq }), "receipt.ok");
    return { receipt: reply.receipt, changed: reply.changed };
  }

  async history(conversationId: string, before?: number, limit?: number): Promise<{ messages: Message[]; hasMore: boolean }> {
    const frame: DistributiveOmit<ClientFrame, "id"> = { type: "history", conversationId };
    if (before !== undefined) frame.before = before;
    if (limit !== undefined) frame.limit = limit;
    const reply = expectReply(await this.request(frame), "history.page");
    return { messages: reply.messages, hasMore: reply.hasMore };
  }

  /** Fetches and emits everything after `cursor`, page by page, until the inbox is caught up. */
  sync(): Promise<void> {
    if (this.syncing) {
      this.resyncWanted = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.resyncWanted = false;
          await this.drainInbox();
        } while (this.takeResyncRequest());
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  private async drainInbox(): Promise<void> {
    let hasMore = true;
    while (hasMore) {
      const batch = expectReply(await this.request({ type: "sync", after: this.cursor, limit: 200 }), "sync.batch");
      for (const event of batch.events) this.accept(event);
      hasMore = batch.hasMore;
    }
  }

  /** Whether a gap was seen while a sync ran, which then needs another round. */
  private takeResyncRequest(): boolean {
    const wanted = this.resyncWanted;
    this.resyncWanted = false;
    return wanted;
  }

  /** Sends a raw frame with a fresh request id and resolves with the reply. */
  request(frame: DistributiveOmit<ClientFrame, "id">): Promise<ReplyFrame> {
    const id = randomUUID();
    return new Promise<ReplyFrame>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ ...frame, id }), (error) => {
        if (error) {
          this.pending.delete(id);
          reject(error);
        }
      });
    });
  }

  /** Sends arbitrary text, as a misbehaving client would; for tests and debugging. */
  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** The next frame of `type` that is not a reply to one of this client's requests. */
  nextUnsolicited<T extends ServerFrame["type"]>(type: T): Promise<Extract<ServerFrame, { type: T }>> {
    return new Promise((resolve) => {
      const listener = (data: WebSocket.RawData): void => {
        const frame = decode(data);
        if (frame.type === type && !("id" in frame && frame.id !== undefined && this.pending.has(frame.id))) {
          this.socket.off("message", listener);
          resolve(frame as Extract<ServerFrame, { type: T }>);
        }
      };
      this.socket.on("message", listener);
    });
  }

  /** Stops reading from the socket, as a stalled client would; for tests. */
  pauseReading(): void {
    (this.socket as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  resumeReading(): void {
    (this.socket as unknown as { _socket: { resume(): void } })._socket.resume();
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => {
        resolve();
      });
      this.socket.close(1000);
    });
  }

  private receive(frame: ServerFrame): void {
    switch (frame.type) {
      case "event":
        if (frame.event.cursor === this.cursor + 1) this.accept(frame.event);
        else if (frame.event.cursor > this.cursor + 1 && this.autoSync) {
          this.sync().catch((error: unknown) => this.emit("error", error as Error));
        }
        return;
      case "group.messages":
        this.emit("groupMessages", frame.messages, frame.tier);
        return;
      case "presence":
        this.emit("presence", frame.presence);
        return;
      case "typing":
        this.emit("typing", frame.conversationId, frame.userId);
        return;
      case "reconnect":
        this.emit("reconnect", frame.retryAfterMs);
        return;
      case "reauthenticate":
        this.emit("reauthenticate", frame.expiredAt);
        return;
      case "hello":
        return;
      case "error":
        if (frame.id !== undefined && this.pending.has(frame.id)) {
          this.settle(frame.id, frame);
        } else {
          this.emit("serverError", new ParleyRequestError(frame.code, frame.message, frame.retryAfterMs));
        }
        return;
      default:
        this.settle(frame.id, frame);
    }
  }

  private settle(id: string, frame: ReplyFrame): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (frame.type === "error") pending.reject(new ParleyRequestError(frame.code, frame.message, frame.retryAfterMs));
    else pending.resolve(frame);
  }

  private accept(event: InboxEvent): void {
    if (event.cursor <= this.cursor) return;
    this.cursor = event.cursor;
    this.emit("event", event);
  }
}

export class UpgradeRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`);
    this.name = "UpgradeRefusedError";
  }
}

function decode(data: WebSocket.RawData): ServerFrame {
  const text = Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data as ArrayBuffer).toString();
  return JSON.parse(text) as ServerFrame;
}

export function expectReply<T extends ReplyFrame["type"]>(frame: ReplyFrame, type: T): Extract<ReplyFrame, { type: T }> {
  if (frame.type !== type) throw new Error(`expected ${type}, got ${frame.type}`);
  return frame as Extract<ReplyFrame, { type: T }>;
}
