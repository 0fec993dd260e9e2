import { z } from "zod";
import { AssetId, ClientMessageId, ConversationId, GroupId, UserId } from "./ids.js";
import type { DeviceId } from "./ids.js";
import type { ErrorCode } from "./errors.js";

/** Bumped on any incompatible change; negotiated as the `parley.v<N>` WebSocket subprotocol. */
export const PROTOCOL_VERSION = 1;
export const PROTOCOL_SUBPROTOCOL = `parley.v${PROTOCOL_VERSION}`;
/** Browsers cannot set headers on a WebSocket, so they offer the token as a subprotocol. */
export const BEARER_SUBPROTOCOL_PREFIX = "parley.bearer.";

export const MAX_TEXT_LENGTH = 4096;
export const MAX_PAGE_SIZE = 200;
export const MAX_ASSETS_PER_MESSAGE = 10;
/** Members named in one group.create, group.add or group.remove frame. */
export const MAX_MEMBERS_PER_FRAME = 256;
export const MAX_PRESENCE_USERS_PER_FRAME = 100;

/** Client-chosen correlation id, echoed on the reply so requests can be pipelined. */
const RequestId = z.string().min(1).max(64);
const Cursor = z.number().int().nonnegative();
const Seq = z.number().int().positive();
const PageSize = z.number().int().min(1).max(MAX_PAGE_SIZE);

export const MessageBody = z
  .strictObject({
    text: z.string().min(1).max(MAX_TEXT_LENGTH).optional(),
    assets: z.array(AssetId).min(1).max(MAX_ASSETS_PER_MESSAGE).optional(),
  })
  .refine((body) => body.text !== undefined || body.assets !== undefined, "a message needs text or assets");
export type MessageBody = z.infer<typeof MessageBody>;

export const ReceiptKind = z.enum(["delivered", "read"]);
export type ReceiptKind = z.infer<typeof ReceiptKind>;

export const GroupRole = z.enum(["owner", "admin", "member"]);
export type GroupRole = z.infer<typeof GroupRole>;

export const LastSeenVisibility = z.enum(["everyone", "contacts", "nobody"]);
export type LastSeenVisibility = z.infer<typeof LastSeenVisibility>;

// ---- client -> server -------------------------------------------------------

const MemberList = z.array(UserId).min(1).max(MAX_MEMBERS_PER_FRAME);

export const SendFrame = z.strictObject({ type: z.literal("send"), id: RequestId, to: UserId, clientMessageId: ClientMessageId, body: MessageBody });
export const ReceiptFrame = z.strictObject({ type: z.literal("receipt"), id: RequestId, conversationId: ConversationId, kind: ReceiptKind, upToSeq: Seq });
export const SyncFrame = z.strictObject({ type: z.literal("sync"), id: RequestId, after: Cursor, limit: PageSize.optional() });
export const HistoryFrame = z
  .strictObject({
    type: z.literal("history"),
    id: RequestId,
    conversationId: ConversationId,
    before: Seq.optional(),
    after: Cursor.optional(),
    limit: PageSize.optional(),
  })
  .refine((frame) => frame.before === undefined || frame.after === undefined, "give before or after, not both");
export const PingFrame = z.strictObject({ type: z.literal("ping"), id: RequestId });

export const GroupCreateFrame = z.strictObject({
  type: z.literal("group.create"),
  id: RequestId,
  name: z.string().min(1).max(100),
  members: z.array(UserId).max(MAX_MEMBERS_PER_FRAME).optional(),
});
export const GroupAddFrame = z.strictObject({ type: z.literal("group.add"), id: RequestId, groupId: GroupId, members: MemberList });
export const GroupRemoveFrame = z.strictObject({ type: z.literal("group.remove"), id: RequestId, groupId: GroupId, members: MemberList });
export const GroupLeaveFrame = z.strictObject({ type: z.literal("group.leave"), id: RequestId, groupId: GroupId });
export const GroupRoleFrame = z.strictObject({ type: z.literal("group.role"), id: RequestId, groupId: GroupId, userId: UserId, role: GroupRole });
export const GroupInfoFrame = z.strictObject({ type: z.literal("group.info"), id: RequestId, groupId: GroupId });
export const GroupMembersFrame = z.strictObject({
  type: z.literal("group.members"),
  id: RequestId,
  groupId: GroupId,
  after: UserId.optional(),
  limit: PageSize.optional(),
});
export const GroupListFrame = z.strictObject({ type: z.literal("group.list"), id: RequestId });
export const GroupSendFrame = z.strictObject({
  type: z.literal("group.send"),
  id: RequestId,
  groupId: GroupId,
  clientMessageId: ClientMessageId,
  body: MessageBody,
});

export const PresenceSubscribeFrame = z.strictObject({
  type: z.literal("presence.subscribe"),
  id: RequestId,
  users: z.array(UserId).min(1).max(MAX_PRESENCE_USERS_PER_FRAME),
});
export const PresenceUnsubscribeFrame = z.strictObject({
  type: z.literal("presence.unsubscribe"),
  id: RequestId,
  users: z.array(UserId).min(1).max(MAX_PRESENCE_USERS_PER_FRAME),
});
export const TypingFrame = z.strictObject({ type: z.literal("typing"), id: RequestId, conversationId: ConversationId });
export const SettingsFrame = z.strictObject({ type: z.literal("settings.set"), id: RequestId, lastSeenVisibility: LastSeenVisibility });

export const ClientFrame = z.discriminatedUnion("type", [
  SendFrame,
  ReceiptFrame,
  SyncFrame,
  HistoryFrame,
  PingFrame,
  GroupCreateFrame,
  GroupAddFrame,
  GroupRemoveFrame,
  GroupLeaveFrame,
  GroupRoleFrame,
  GroupInfoFrame,
  GroupMembersFrame,
  GroupListFrame,
  GroupSendFrame,
  PresenceSubscribeFrame,
  PresenceUnsubscribeFrame,
  TypingFrame,
  SettingsFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ClientFrameType = ClientFrame["type"];
export type ClientFrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>;

export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = ClientFrame.options.map((o) => o.def.shape.type.value);

// ---- server -> client -------------------------------------------------------

export interface Message {
  messageId: string;
  conversationId: ConversationId;
  /** Position in the conversation: 1, 2, 3... identical on every device of every member. */
  seq: number;
  senderId: UserId;
  senderDeviceId: DeviceId;
  /** Direct messages only. */
  recipientId?: UserId;
  /** Group messages only. */
  groupId?: GroupId;
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

export interface GroupMembershipChange {
  groupId: GroupId;
  change: "added" | "removed" | "role";
  role: GroupRole | null;
  by: UserId;
  at: string;
}

/**
 * One entry of a user's inbox: the ordered, durable stream every device of that user
 * syncs from. `cursor` is the entry's position in that stream. Group messages are not in
 * it (they are stored once per group): they arrive as group.messages frames and are
 * synced per group with history { after }.
 */
export type InboxEvent =
  | { cursor: number; type: "message"; message: Message }
  | { cursor: number; type: "receipt"; receipt: Receipt }
  | { cursor: number; type: "group"; group: GroupMembershipChange };

export interface GroupInfo {
  groupId: GroupId;
  name: string;
  createdBy: UserId;
  createdAt: string;
  memberCount: number;
  maxMembers: number;
  /** The caller's role. */
  role: GroupRole;
  lastSeq: number;
}

export interface GroupSummary {
  groupId: GroupId;
  name: string;
  role: GroupRole;
  lastSeq: number;
  /** The caller's read mark. */
  readSeq: number;
  unread: number;
}

export interface PresenceView {
  userId: UserId;
  /** Null when the user's visibility setting hides it from the caller. */
  online: boolean | null;
  lastSeen: string | null;
}

export interface ServerLimits {
  maxFrameBytes: number;
  framesPerSecond: number;
  frameBurst: number;
  maxTextLength: number;
  maxPageSize: number;
  maxGroupMembers: number;
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
      /** ISO 8601: when the token expires and the server closes the connection (4001). */
      tokenExpiresAt: string;
    }
  | { type: "ack"; id: string; message: Message; duplicate: boolean }
  | { type: "receipt.ok"; id: string; receipt: Receipt; changed: boolean }
  | { type: "sync.batch"; id: string; events: InboxEvent[]; cursor: number; hasMore: boolean }
  | { type: "history.page"; id: string; conversationId: ConversationId; messages: Message[]; hasMore: boolean }
  | { type: "group"; id: string; group: GroupInfo }
  | { type: "group.members.page"; id: string; groupId: GroupId; members: { userId: UserId; role: GroupRole }[]; hasMore: boolean }
  | { type: "group.list"; id: string; groups: GroupSummary[] }
  | { type: "presence.state"; id: string; users: PresenceView[] }
  | { type: "ok"; id: string }
  | { type: "pong"; id: string }
  | { type: "event"; event: InboxEvent }
  | { type: "group.messages"; tier: "realtime" | "batched"; messages: Message[] }
  | { type: "presence"; presence: PresenceView }
  | { type: "typing"; conversationId: ConversationId; userId: UserId }
  | { type: "error"; id?: string; code: ErrorCode; message: string; retryAfterMs?: number }
  | { type: "reconnect"; reason: "shutdown" | "drain"; retryAfterMs: number }
  /** The token expired: the server closes with 4001 right after; reconnect with a new token. */
  | { type: "reauthenticate"; reason: "token_expired"; expiredAt: string };

/** Frames the server pushes unasked, as opposed to replies that carry a request id. */
export type PushFrame = Extract<ServerFrame, { type: "event" | "group.messages" | "presence" | "typing" }>;
