import { CloseCode } from "../protocol/errors.js";
import type { ClientFrameType, InboxEvent, Message, MessageBody, ReceiptKind, Receipt, ServerFrame } from "../protocol/frames.js";
import { AssetsApi } from "./assets.js";
import { reconnectDelayMs } from "./backoff.js";
import { TypedEmitter } from "./emitter.js";
import { ParleyError } from "./errors.js";
import { GroupMarks } from "./group-marks.js";
import { GroupsApi } from "./groups.js";
import { Outbox } from "./outbox.js";
import { PresenceApi } from "./presence.js";
import { REPLY_TYPES, type ReplyTo, type RequestFrameOf } from "./replies.js";
import { memoryStorage, StorageKeys, type ParleyStorage } from "./storage.js";
import type { XhrConstructor } from "./xhr-upload.js";
import type {
  ConnectionState,
  HelloFrame,
  OutboxEntry,
  ParleyEvents,
  ParleyOptions,
  TokenReason,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";

/**
 * The same values as in services/protocol/frames.ts (a test keeps them equal): importing
 * them from there would pull zod, which frames.ts needs for its schemas, into every
 * browser bundle.
 */
export const PROTOCOL_SUBPROTOCOL = "parley.v1";
export const BEARER_SUBPROTOCOL_PREFIX = "parley.bearer.";

const SYNC_PAGE_SIZE = 200;
/** Messages a device shows of a group it has no mark for yet (new device, new group). */
const FIRST_GROUP_PAGE_SIZE = 50;
const RETRY_SEND_AFTER_MS = 1000;

interface PendingRequest {
  expected: ServerFrame["type"];
  resolve: (frame: ServerFrame) => void;
  reject: (error: ParleyError) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Sender {
  promise: Promise<Message>;
  resolve: (message: Message) => void;
  /** A ParleyError from the server, or the storage's own error when the outbox could not keep the send. */
  reject: (error: Error) => void;
}

/**
 * A Parley client for browsers and Node.js. It keeps one WebSocket open while wanted
 * (reconnecting with backoff and jitter, honouring `reconnect` frames and close codes),
 * catches up from a stored cursor after every (re)connection, and sends through a
 * persisted outbox that retries with the same clientMessageId until the server stores the
 * message. Every inbox event is emitted exactly once, in cursor order.
 */
export class ParleyClient extends TypedEmitter<ParleyEvents> {
  readonly groups: GroupsApi;
  readonly presence: PresenceApi;
  readonly assets: AssetsApi;

  private readonly storage: ParleyStorage;
  private readonly outbox: Outbox;
  private readonly marks: GroupMarks;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly requestTimeoutMs: number;

  private socket: WebSocketLike | null = null;
  private helloFrame: HelloFrame | null = null;
  private currentState: ConnectionState = "idle";
  private readonly pending = new Map<string, PendingRequest>();
  private requestCounter = 0;
  private inboxCursor = 0;
  private loaded: Promise<void> | null = null;
  /** connect() was called and close() was not. */
  private wanted = false;
  /** Counts connect() calls after close(): an attempt that waited for a token while the client was closed and reopened belongs to an old one. */
  private generation = 0;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  /** From a `reconnect` frame: the server's wish for the next delay. */
  private serverRetryAfterMs: number | null = null;
  private tokenReason: TokenReason = "connect";
  private token: string | null = null;
  private syncing: Promise<void> | null = null;
  private resyncWanted = false;
  private cursorWriteQueued = false;
  private persisting: Promise<void> = Promise.resolve();
  /** The outbox was flushed on the current connection: new sends go out at once. */
  private flushed = false;
  private readonly inFlight = new Set<string>();
  private readonly senders = new Map<string, Sender>();
  /** Resends waiting out a refusal (rate_limited...): close() clears them so they keep no process alive. */
  private readonly sendRetryTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly groupQueues = new Map<string, Promise<void>>();
  private connectWaiters: { resolve: (hello: HelloFrame) => void; reject: (error: Error) => void }[] = [];
  private removeNetworkListeners: (() => void) | null = null;

  constructor(private readonly options: ParleyOptions) {
    super();
    this.storage = options.storage ?? memoryStorage();
    this.outbox = new Outbox(this.storage);
    this.marks = new GroupMarks(this.storage);
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new Error("no WebSocket: pass options.WebSocket (in Node.js, nodeWebSocket from @parley/sdk/node)");
    this.WebSocketImpl = WebSocketImpl;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    const Xhr = options.XMLHttpRequest === false ? null : (options.XMLHttpRequest ?? (globalThis as { XMLHttpRequest?: XhrConstructor }).XMLHttpRequest ?? null);
    this.assets = new AssetsApi(options.httpUrl ?? httpBaseUrl(options.url), () => this.currentToken(), fetchImpl, Xhr);
    this.groups = new GroupsApi(
      (frame) => this.request(frame),
      (groupId, body, sendOptions = {}) => this.enqueue({ groupId }, body, sendOptions),
    );
    this.presence = new PresenceApi((frame) => this.request(frame));
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The hello of the current (or last) connection; null before the first. */
  get hello(): HelloFrame | null {
    return this.helloFrame;
  }

  get userId(): string | null {
    return this.helloFrame?.userId ?? null;
  }

  /** The highest inbox cursor emitted: every event up to it has been handed on. */
  get cursor(): number {
    return this.inboxCursor;
  }

  /**
   * Opens the connection and keeps it open until `close()`. Resolves once connected and
   * caught up (missed events emitted, outbox resent). If the connection cannot be made it
   * keeps trying with backoff; with `reconnect: false` it rejects instead.
   */
  connect(): Promise<HelloFrame> {
    const ready = new Promise<HelloFrame>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (!this.wanted) {
      this.wanted = true;
      this.generation++;
      this.listenToNetwork();
      void this.attemptConnection();
    } else if (this.currentState === "open" && this.flushed && this.helloFrame) {
      this.settleConnectWaiters(this.helloFrame);
    }
    return ready;
  }

  /** Closes the connection (1000) and stops reconnecting; the outbox stays in storage. */
  async close(): Promise<void> {
    this.wanted = false;
    this.removeNetworkListeners?.();
    this.removeNetworkListeners = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const timer of this.sendRetryTimers) clearTimeout(timer);
    this.sendRetryTimers.clear();
    const socket = this.socket;
    if (socket) {
      await new Promise<void>((resolve) => {
        const onclose = socket.onclose;
        socket.onclose = (event) => {
          onclose?.(event);
          resolve();
        };
        socket.close(1000);
      });
    } else {
      this.setState("closed");
      this.rejectConnectWaiters(new ParleyError("closed", "closed by the application"));
    }
    await this.persisting;
  }

  /** Sends a direct message through the outbox; resolves with the stored message. */
  send(to: string, body: MessageBody | string, options: { clientMessageId?: string } = {}): Promise<Message> {
    return this.enqueue({ userId: to }, body, options);
  }

  /** The sends not yet acknowledged, oldest first (including those of an earlier session). */
  async pendingSends(): Promise<OutboxEntry[]> {
    await this.load();
    return this.outbox.list();
  }

  /** A page of a conversation: newest first, or oldest first with `after` (docs/protocol.md section 16). */
  async history(conversationId: string, page: { before?: number; after?: number; limit?: number } = {}): Promise<{ messages: Message[]; hasMore: boolean }> {
    const reply = await this.request({ type: "history", conversationId, ...page });
    return { messages: reply.messages, hasMore: reply.hasMore };
  }

  /** Marks every message up to `upToSeq` as delivered to (or read by) you. */
  async receipt(conversationId: string, kind: ReceiptKind, upToSeq: number): Promise<{ receipt: Receipt; changed: boolean }> {
    const reply = await this.request({ type: "receipt", conversationId, kind, upToSeq });
    return { receipt: reply.receipt, changed: reply.changed };
  }

  markDelivered(conversationId: string, upToSeq: number): Promise<{ receipt: Receipt; changed: boolean }> {
    return this.receipt(conversationId, "delivered", upToSeq);
  }

  markRead(conversationId: string, upToSeq: number): Promise<{ receipt: Receipt; changed: boolean }> {
    return this.receipt(conversationId, "read", upToSeq);
  }

  /** Shorthand for `presence.typing`. */
  typing(conversationId: string): Promise<void> {
    return this.presence.typing(conversationId);
  }

  /** Round trip of an application ping, in milliseconds. */
  async ping(): Promise<number> {
    const started = Date.now();
    await this.request({ type: "ping" });
    return Date.now() - started;
  }

  /** Fetches and emits everything after `cursor` until the inbox is caught up. Runs by itself after every (re)connection. */
  sync(): Promise<void> {
    if (this.syncing) {
      this.resyncWanted = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.resyncWanted = false;
          let hasMore = true;
          while (hasMore) {
            const batch = await this.request({ type: "sync", after: this.inboxCursor, limit: SYNC_PAGE_SIZE });
            for (const event of batch.events) this.accept(event);
            hasMore = batch.hasMore;
          }
        } while (this.takeResyncRequest());
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  /**
   * Sends any client frame and resolves with its success reply, or rejects with a
   * ParleyError (the server's error code, `timeout` or `closed`). Fails at once when not connected.
   */
  request<T extends ClientFrameType>(frame: RequestFrameOf<T>): Promise<ReplyTo<T>> {
    const socket = this.socket;
    if (!socket || this.currentState !== "open") return Promise.reject(new ParleyError("closed", `not connected (${this.currentState})`));
    const id = String(++this.requestCounter);
    return new Promise<ReplyTo<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ParleyError("timeout", `no reply to ${frame.type} within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { expected: REPLY_TYPES[frame.type], resolve: resolve as (frame: ServerFrame) => void, reject, timer });
      socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  // ---- connection lifecycle ---------------------------------------------------------

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      const cursor = await this.storage.get(StorageKeys.cursor);
      if (typeof cursor === "number" && cursor > this.inboxCursor) this.inboxCursor = cursor;
      await this.outbox.load();
    })();
    return this.loaded;
  }

  private async attemptConnection(): Promise<void> {
    this.retryTimer = null;
    if (!this.wanted) return;
    const generation = this.generation;
    this.setState("connecting");
    let token: string;
    try {
      await this.load();
      token = await this.resolveToken();
    } catch (error) {
      if (!this.stillWanted(generation)) return;
      this.emit("error", asError(error));
      this.afterDrop(1006, "could not get a token");
      return;
    }
    // close() may have been called while the token was fetched, and connect() again after it.
    if (!this.stillWanted(generation)) return;
    const socket = new this.WebSocketImpl(this.socketUrl(), [PROTOCOL_SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX + token]);
    this.socket = socket;
    socket.onmessage = (event) => {
      if (socket === this.socket && typeof event.data === "string") this.receive(socket, event.data);
    };
    socket.onclose = (event) => {
      this.dropped(socket, event.code, event.reason);
    };
    // A close always follows an error; `ws` needs a listener so that the error does not throw.
    socket.onerror = () => undefined;
  }

  private stillWanted(generation: number): boolean {
    return this.wanted && generation === this.generation;
  }

  /** Whether a gap was seen while a sync ran, which then needs another round. */
  private takeResyncRequest(): boolean {
    const wanted = this.resyncWanted;
    this.resyncWanted = false;
    return wanted;
  }

  private receive(socket: WebSocketLike, data: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      this.emit("error", new Error(`the server sent a frame that is not JSON: ${data.slice(0, 100)}`));
      return;
    }
    if (frame.type === "hello") this.opened(socket, frame);
    else this.handleFrame(frame);
  }

  private opened(socket: WebSocketLike, hello: HelloFrame): void {
    this.helloFrame = hello;
    this.attempt = 0;
    this.serverRetryAfterMs = null;
    this.tokenReason = "reconnect";
    this.setState("open");
    this.emit("open", hello);
    this.startPinging(socket, this.options.pingIntervalMs ?? hello.heartbeatIntervalMs);
    void this.resume(socket);
  }

  /** After a (re)connection: catch up on the inbox and groups, then resend the outbox. */
  private async resume(socket: WebSocketLike): Promise<void> {
    try {
      await this.sync();
      if (this.options.syncGroups !== false) await this.catchUpGroups();
      if (socket !== this.socket) return;
      this.flushed = true;
      for (const entry of this.outbox.list()) this.transmit(entry);
      this.emit("synced", this.inboxCursor);
      if (this.helloFrame) this.settleConnectWaiters(this.helloFrame);
    } catch (error) {
      // A drop during the catch-up fails its requests with `closed`; the next connection resumes again.
      if (socket === this.socket) this.emit("error", asError(error));
    }
  }

  private dropped(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.flushed = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new ParleyError("closed", `connection closed (${code}) before the reply to request ${id}`));
    }
    this.pending.clear();
    this.inFlight.clear();
    this.afterDrop(code, reason);
  }

  private afterDrop(code: number, reason: string): void {
    const expired = code === CloseCode.tokenExpired;
    if (expired) this.tokenReason = "expired";
    const willReconnect = this.wanted && this.options.reconnect !== false && !(expired && typeof this.options.token === "string");
    this.emit("close", { code, reason, willReconnect });
    if (!willReconnect) {
      this.wanted = false;
      this.removeNetworkListeners?.();
      this.removeNetworkListeners = null;
      this.setState("closed");
      this.rejectConnectWaiters(new ParleyError("closed", `connection closed (${code}${reason ? `: ${reason}` : ""})`));
      return;
    }
    this.setState("reconnecting");
    this.retryTimer = setTimeout(() => void this.attemptConnection(), this.nextDelayMs(expired));
  }

  private nextDelayMs(expired: boolean): number {
    if (this.serverRetryAfterMs !== null) {
      // Spread the clients of a server that shuts down over half its delay again.
      const delay = this.serverRetryAfterMs * (1 + Math.random() / 2);
      this.serverRetryAfterMs = null;
      return delay;
    }
    if (expired) return 0;
    const reconnect = this.options.reconnect === false ? {} : this.options.reconnect;
    return reconnectDelayMs(this.attempt++, reconnect);
  }

  /** Application pings: browsers cannot see WebSocket pings, and a dead network shows no close for minutes. */
  private startPinging(socket: WebSocketLike, intervalMs: number): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (intervalMs <= 0) return;
    this.pingTimer = setInterval(() => {
      this.request({ type: "ping" }).catch((error: unknown) => {
        if (error instanceof ParleyError && error.code === "timeout") this.abandon(socket, "no reply to ping");
      });
    }, intervalMs);
  }

  /** Gives up on a socket that looks dead without waiting for its close handshake. */
  private abandon(socket: WebSocketLike, reason: string): void {
    if (socket !== this.socket) return;
    this.dropped(socket, 1006, reason);
    socket.onclose = null;
    socket.onmessage = null;
    socket.close(1000);
  }

  private listenToNetwork(): void {
    const target = globalThis as { addEventListener?: (type: string, listener: () => void) => void; removeEventListener?: (type: string, listener: () => void) => void };
    if (typeof target.addEventListener !== "function" || typeof target.removeEventListener !== "function") return;
    // Browsers know when the network goes away long before a ping times out.
    const offline = (): void => {
      if (this.socket) this.abandon(this.socket, "the browser went offline");
    };
    const online = (): void => {
      if (this.currentState !== "reconnecting" || !this.retryTimer) return;
      clearTimeout(this.retryTimer);
      this.attempt = 0;
      void this.attemptConnection();
    };
    target.addEventListener("offline", offline);
    target.addEventListener("online", online);
    const remove = target.removeEventListener.bind(target);
    this.removeNetworkListeners = () => {
      remove("offline", offline);
      remove("online", online);
    };
  }

  private async resolveToken(): Promise<string> {
    const source = this.options.token;
    this.token = typeof source === "string" ? source : await source(this.tokenReason);
    return this.token;
  }

  private async currentToken(): Promise<string> {
    return this.token ?? (await this.resolveToken());
  }

  private socketUrl(): string {
    const url = new URL(this.options.url);
    if (this.options.deviceId !== undefined) url.searchParams.set("device", this.options.deviceId);
    return url.toString();
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit("state", state);
  }

  private settleConnectWaiters(hello: HelloFrame): void {
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.resolve(hello);
  }

  private rejectConnectWaiters(error: Error): void {
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  // ---- frames -------------------------------------------------------------------------

  private handleFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case "event":
        if (frame.event.cursor === this.inboxCursor + 1) this.accept(frame.event);
        else if (frame.event.cursor > this.inboxCursor + 1) this.sync().catch((error: unknown) => { this.reportUnlessClosed(error); });
        return;
      case "group.messages":
        this.emit("groupMessages", frame.messages, frame.tier);
        for (const message of frame.messages) this.onGroupMessage(message);
        return;
      case "presence":
        this.emit("presence", frame.presence);
        return;
      case "typing":
        this.emit("typing", { conversationId: frame.conversationId, userId: frame.userId });
        return;
      case "reconnect":
        this.serverRetryAfterMs = frame.retryAfterMs;
        this.emit("reconnect", { reason: frame.reason, retryAfterMs: frame.retryAfterMs });
        return;
      case "reauthenticate":
        this.emit("reauthenticate", frame.expiredAt);
        return;
      case "hello":
        return;
      case "error":
        if (frame.id !== undefined && this.pending.has(frame.id)) this.settle(frame.id, frame);
        else this.emit("serverError", new ParleyError(frame.code, frame.message, frame.retryAfterMs));
        return;
      default:
        // Replies; a frame type this version does not know has no pending request and is ignored.
        if ("id" in frame) this.settle(frame.id, frame);
    }
  }

  private settle(id: string, frame: ServerFrame): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (frame.type === "error") pending.reject(new ParleyError(frame.code, frame.message, frame.retryAfterMs));
    else if (frame.type !== pending.expected) pending.reject(new ParleyError("internal", `expected ${pending.expected}, got ${frame.type}`));
    else pending.resolve(frame);
  }

  private accept(event: InboxEvent): void {
    if (event.cursor <= this.inboxCursor) return;
    this.inboxCursor = event.cursor;
    this.persistCursor();
    this.emit("event", event);
    if (event.type === "message") this.emit("message", event.message);
    else if (event.type === "receipt") this.emit("receipt", event.receipt);
    else this.emit("group", event.group);
  }

  /** Writes the cursor after the events emitted so far; writes that pile up collapse into one. */
  private persistCursor(): void {
    if (this.cursorWriteQueued) return;
    this.cursorWriteQueued = true;
    this.persisting = this.persisting
      .then(() => {
        this.cursorWriteQueued = false;
        return this.storage.set(StorageKeys.cursor, this.inboxCursor);
      })
      .catch((error: unknown) => { this.emit("error", asError(error)); });
  }

  // ---- groups -------------------------------------------------------------------------

  /** Runs group work one at a time per group, so marks move in order. */
  private inGroupQueue(groupId: string, work: () => Promise<void>): Promise<void> {
    const next = (this.groupQueues.get(groupId) ?? Promise.resolve()).then(work);
    const settled = next.catch(() => undefined);
    this.groupQueues.set(groupId, settled);
    void settled.then(() => {
      if (this.groupQueues.get(groupId) === settled) this.groupQueues.delete(groupId);
    });
    return next;
  }

  private onGroupMessage(message: Message): void {
    const groupId = message.groupId;
    if (groupId === undefined) return;
    this.inGroupQueue(groupId, async () => {
      const mark = (await this.marks.get(groupId)) ?? 0;
      if (message.seq <= mark) return;
      if (message.seq === mark + 1) {
        await this.marks.set(groupId, message.seq);
        this.emit("message", message);
      } else {
        await this.readGroupForward(groupId, mark);
      }
    }).catch((error: unknown) => { this.reportUnlessClosed(error); });
  }

  private async catchUpGroups(): Promise<void> {
    const groups = await this.groups.list();
    await Promise.all(
      groups.map((group) =>
        this.inGroupQueue(group.groupId, async () => {
          const mark = await this.marks.get(group.groupId);
          if (mark === undefined) await this.readGroupNewest(group.groupId, group.lastSeq);
          else if (group.lastSeq > mark) await this.readGroupForward(group.groupId, mark);
        }),
      ),
    );
  }

  /** Emits the group's messages after `after`, oldest first, page by page. */
  private async readGroupForward(groupId: string, after: number): Promise<void> {
    let from = after;
    let hasMore = true;
    while (hasMore) {
      const page = await this.history(`grp:${groupId}`, { after: from, limit: SYNC_PAGE_SIZE });
      const pageStart = from;
      for (const message of page.messages) {
        // Every message seen moves the next page on, emitted or not (already at or below the mark).
        from = Math.max(from, message.seq);
        if (message.seq <= this.marks.peek(groupId)) continue;
        await this.marks.set(groupId, message.seq);
        this.emit("message", message);
      }
      // A page that does not move forward would be asked for again and again.
      hasMore = page.hasMore && from > pageStart;
    }
  }

  /** A group this device has never seen: its newest page, not its whole past. */
  private async readGroupNewest(groupId: string, lastSeq: number): Promise<void> {
    const page = await this.history(`grp:${groupId}`, { limit: FIRST_GROUP_PAGE_SIZE });
    for (const message of [...page.messages].reverse()) {
      await this.marks.set(groupId, message.seq);
      this.emit("message", message);
    }
    await this.marks.set(groupId, lastSeq);
  }

  // ---- outbox -------------------------------------------------------------------------

  private async enqueue(to: OutboxEntry["to"], body: MessageBody | string, options: { clientMessageId?: string }): Promise<Message> {
    const clientMessageId = options.clientMessageId ?? newClientMessageId();
    const existing = this.senders.get(clientMessageId);
    if (existing) return existing.promise;
    let resolve!: (message: Message) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<Message>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Registered before the outbox write, so that a second send of the same id meanwhile waits for this one.
    this.senders.set(clientMessageId, { promise, resolve, reject });
    const entry: OutboxEntry = { clientMessageId, to, body: typeof body === "string" ? { text: body } : body, queuedAt: new Date().toISOString() };
    try {
      await this.load();
      await this.outbox.add(entry);
    } catch (error) {
      // The send was not kept: forget it everywhere, so that it is neither sent later behind the app's back nor blocks a retry.
      this.senders.delete(clientMessageId);
      await this.outbox.remove(clientMessageId).catch(() => undefined);
      reject(asError(error));
      return promise;
    }
    if (this.flushed) this.transmit(entry);
    return promise;
  }

  private transmit(entry: OutboxEntry): void {
    const { clientMessageId, body } = entry;
    if (this.inFlight.has(clientMessageId)) return;
    this.inFlight.add(clientMessageId);
    const reply =
      "userId" in entry.to
        ? this.request({ type: "send", to: entry.to.userId, clientMessageId, body })
        : this.request({ type: "group.send", groupId: entry.to.groupId, clientMessageId, body });
    reply.then(
      async (ack) => {
        this.inFlight.delete(clientMessageId);
        await this.outbox.remove(clientMessageId);
        this.emit("sent", entry, ack.message);
        this.senders.get(clientMessageId)?.resolve(ack.message);
        this.senders.delete(clientMessageId);
      },
      async (error: unknown) => {
        this.inFlight.delete(clientMessageId);
        const failure = error instanceof ParleyError ? error : new ParleyError("internal", asError(error).message);
        // `closed`: the next connection resends it. Other passing failures: again on this one, a little later.
        if (failure.retryable) {
          if (failure.code !== "closed") {
            const timer = setTimeout(() => {
              this.sendRetryTimers.delete(timer);
              if (this.flushed && this.outbox.has(clientMessageId)) this.transmit(entry);
            }, failure.retryAfterMs ?? RETRY_SEND_AFTER_MS);
            this.sendRetryTimers.add(timer);
          }
          return;
        }
        await this.outbox.remove(clientMessageId);
        this.emit("sendFailed", entry, failure);
        this.senders.get(clientMessageId)?.reject(failure);
        this.senders.delete(clientMessageId);
      },
    ).catch((error: unknown) => { this.emit("error", asError(error)); });
  }

  private reportUnlessClosed(error: unknown): void {
    if (error instanceof ParleyError && error.code === "closed") return;
    this.emit("error", asError(error));
  }
}

/** `ws://host:port/ws` → `http://host:port`. */
function httpBaseUrl(websocketUrl: string): string {
  const url = new URL(websocketUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  return url.origin;
}

/** A random id from crypto.getRandomValues, which (unlike randomUUID) browsers offer on plain http too. */
function newClientMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
