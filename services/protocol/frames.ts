import { z } from "zod";
import type { DeviceId} from "./ids.js";
import { ClientMessageId, ConversationId, UserId } from "./ids.js";
import type { ErrorCode } from "./errors.js";

/** Bumped on any incompatible change; negotiated as the `parley.v<N>` WebSocket subprotocol. */
export const PROTOCOL_VERSION = 1;
export const PROTOCOL_SUBPROTOCOL = `parley.v${PROTOCOL_VERSION}`;
/** Browsers cannot set headers on a WebSocket, so they offer the token as a subprotocol. */
export const BEARER_SUBPROTOCOL_PREFIX = "parley.bearer.";

export const MAX_TEXT_LENGTH = 4096;
export const MAX_PAGE_SIZE = 200;

/** Client-chosen correlation id, echoed on the reply so requests can be pipelined. */
const RequestId = z.string().min(1).max(64);
const Cursor = z.number().int().nonnegative();
const Seq = z.number().int().positive();
const PageSize = z.number().int().min(1).max(MAX_PAGE_SIZE);

export const MessageBody = z.strictObject({
  text: z.string().min(1).max(MAX_TEXT_LENGTH),
});
export type MessageBody = z.infer<typeof MessageBody>;

export const ReceiptKind = z.enum(["delivered", "read"]);
export type ReceiptKind = z.infer<typeof ReceiptKind>;

// ---- client -> server -------------------------------------------------------

export const SendFrame = z.strictObject({
  type: z.literal("send"),
  id: RequestId,
  to: UserId,
  clientMessageId: ClientMessageId,
  body: MessageBody,
});

export const ReceiptFrame = z.strictObject({
  type: z.literal("receipt"),
  id: RequestId,
  conversationId: ConversationId,
  kind: ReceiptKind,
  upToSeq: Seq,
});

export const SyncFrame = z.strictObject({
  type: z.literal("sync"),
  id: RequestId,
  after: Cursor,
  limit: PageSize.optional(),
});

export const HistoryFrame = z.strictObject({
  type: z.literal("history"),
  id: RequestId,
  conversationId: ConversationId,
  before: Seq.optional(),
  limit: PageSize.optional(),
});

export const PingFrame = z.strictObject({
  type: z.literal("ping"),
  id: RequestId,
});

export const ClientFrame = z.discriminatedUnion("type", [SendFrame, ReceiptFrame, SyncFrame, HistoryFrame, PingFrame]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type SendFrame = z.infer<typeof SendFrame>;
export type ReceiptFrame = z.infer<typeof ReceiptFrame>;
export type SyncFrame = z.infer<typeof SyncFrame>;
export type HistoryFrame = z.infer<typeof HistoryFrame>;

export const CLIENT_FRAME_TYPES = ClientFrame.options.map((o) => o.shape.type.value);

// ---- server -> client -------------------------------------------------------

export interface Message {
  messageId: string;
  conversationId: ConversationId;
  /** Position in the conversation: 1, 2, 3... identical on every device. */
  seq: number;
  senderId: UserId;
  senderDeviceId: DeviceId;
  recipientId: UserId;
  clientMessageId: string;
  body: MessageBody;
  /** ISO 8601, set by the server when the message was stored. */
  sentAt: string;
}

export interface Receipt {
  conversationId: ConversationId;
  /** Who delivered or read. */
  userId: UserId;
  kind: ReceiptKind;
  upToSeq: number;
  at: string;
}

/**
 * One entry of a user's inbox: the ordered, durable stream every device of that user
 * syncs from. `cursor` is the entry's position in that stream.
 */
export type InboxEvent =
  | { cursor: number; type: "message"; message: Message }
  | { cursor: number; type: "receipt"; receipt: Receipt };

export interface ServerLimits {
  maxFrameBytes: number;
  framesPerSecond: number;
  frameBurst: number;
  maxTextLength: number;
  maxPageSize: number;
}

export type ServerFrame =
  | {
      type: "hello";
      protocol: number;
      userId: UserId;
      deviceId: DeviceId;
      connectionId: string;
      heartbeatIntervalMs: number;
      limits: ServerLimits;
    }
  | { type: "ack"; id: string; message: Message; duplicate: boolean }
  | { type: "receipt.ok"; id: string; receipt: Receipt; changed: boolean }
  | { type: "sync.batch"; id: string; events: InboxEvent[]; cursor: number; hasMore: boolean }
  | { type: "history.page"; id: string; conversationId: ConversationId; messages: Message[]; hasMore: boolean }
  | { type: "pong"; id: string }
  | { type: "event"; event: InboxEvent }
  | { type: "error"; id?: string; code: ErrorCode; message: string; retryAfterMs?: number }
  | { type: "reconnect"; reason: "shutdown" | "drain"; retryAfterMs: number };

export type ServerFrameType = ServerFrame["type"];
