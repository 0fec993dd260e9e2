import type {
  GroupMembershipChange,
  InboxEvent,
  Message,
  MessageBody,
  PresenceView,
  Receipt,
  ServerFrame,
} from "../protocol/frames.js";
import type { ParleyStorage } from "./storage.js";
import type { ParleyError } from "./errors.js";
import type { XhrConstructor } from "./xhr-upload.js";

/** The part of the WebSocket API the SDK uses: the browser's, Node's global one and `ws` all fit. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** Why the SDK asks for a token: the first connection, a reconnection, or the last token expired (close 4001). */
export type TokenReason = "connect" | "reconnect" | "expired";
export type TokenSource = string | ((reason: TokenReason) => string | Promise<string>);

export interface ReconnectOptions {
  /** First delay after a drop. Default 500 ms. */
  initialDelayMs?: number;
  /** Longest delay between attempts. Default 30 000 ms. */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt. Default 2. */
  multiplier?: number;
}

export interface ParleyOptions {
  /** The gateway's WebSocket endpoint, e.g. `ws://127.0.0.1:8080/ws` or `wss://chat.example.com/ws`. */
  url: string;
  /**
   * A bearer token, or a function that returns one. A function is called before every
   * connection attempt (`reason` says why), so it can hand out a cached token while it is
   * valid and must fetch a fresh one for `expired` (the server closed with 4001). With a
   * plain string the client stops when the token expires.
   */
  token: TokenSource;
  /** Names this installation (`?device=`); keep it stable. Default: the server makes one up per connection. */
  deviceId?: string;
  /** Where the cursor, group marks and outbox live. Default `memoryStorage()`. */
  storage?: ParleyStorage;
  /** Base URL of the HTTP API (`/v1/assets`). Default: `url` with http(s) and without the path. */
  httpUrl?: string;
  /** Default `globalThis.WebSocket`; in Node pass `nodeWebSocket` from `@parley/sdk/node`. */
  WebSocket?: WebSocketConstructor;
  /** Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /**
   * Asset uploads go through XMLHttpRequest when there is one, since only it reports upload
   * progress. Default `globalThis.XMLHttpRequest` (browsers; Node.js has none and uploads
   * with `fetch`). `false`: upload with `fetch` too.
   */
  XMLHttpRequest?: XhrConstructor | false;
  /** Reconnect after an unexpected close. `false`: never. Default on, with the defaults of `ReconnectOptions`. */
  reconnect?: ReconnectOptions | false;
  /** A request without a reply after this long fails (and the connection is considered dead). Default 15 000 ms. */
  requestTimeoutMs?: number;
  /**
   * How often to send an application ping to notice a dead connection (no pong within
   * `requestTimeoutMs`: reconnect). Default: the server's `heartbeatIntervalMs`. 0: never.
   */
  pingIntervalMs?: number;
  /** Catch up on group messages (group.list + history) after every (re)connection. Default true. */
  syncGroups?: boolean;
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export type HelloFrame = Extract<ServerFrame, { type: "hello" }>;

/** A send the outbox keeps until the server acknowledges it. */
export interface OutboxEntry {
  clientMessageId: string;
  /** A user id for a direct message, or a group id. */
  to: { userId: string } | { groupId: string };
  body: MessageBody;
  /** ISO 8601, when the app called send. */
  queuedAt: string;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** Whether the client will connect again by itself. */
  willReconnect: boolean;
}

/** Events of a `ParleyClient`; listen with `client.on(name, listener)`. */
export interface ParleyEvents {
  /** The connection state changed. */
  state: [state: ConnectionState];
  /** A connection is open and its hello arrived (before the catch-up sync). */
  open: [hello: HelloFrame];
  /** The catch-up after a (re)connection is done: every missed event has been emitted. */
  synced: [cursor: number];
  close: [info: CloseInfo];
  /** Each inbox event exactly once, in cursor order (live or from a sync). */
  event: [event: InboxEvent];
  /** Each new message, direct or group, once: from the inbox, group pushes or group catch-up. */
  message: [message: Message];
  /** A delivered/read receipt from the inbox (another member's, or your own from another device). */
  receipt: [receipt: Receipt];
  /** You were added to or removed from a group, or your role changed. */
  group: [change: GroupMembershipChange];
  /** A `group.messages` push as it arrived (`message` has them deduplicated). */
  groupMessages: [messages: Message[], tier: "realtime" | "batched"];
  presence: [presence: PresenceView];
  typing: [typing: { conversationId: string; userId: string }];
  /** The server asked to reconnect (shutting down or draining); the client does so after `retryAfterMs`. */
  reconnect: [request: { reason: "shutdown" | "drain"; retryAfterMs: number }];
  /** The token expires now; the server closes with 4001 and the client reconnects with a new token. */
  reauthenticate: [expiredAt: string];
  /** An outbox entry was stored by the server. */
  sent: [entry: OutboxEntry, message: Message];
  /** The server refused an outbox entry for good (e.g. forbidden); it was removed from the outbox. */
  sendFailed: [entry: OutboxEntry, error: ParleyError];
  /** An error frame that answers no request (e.g. a rate limit on a frame). */
  serverError: [error: ParleyError];
  /** A failure of the socket, of a sync or of a listener. */
  error: [error: Error];
}
