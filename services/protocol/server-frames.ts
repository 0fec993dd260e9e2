import { z } from "zod";
import { ErrorCode } from "./errors.js";
import { ConversationId, DeviceId, GroupId, UserId } from "./ids.js";
import { GroupRole, MessageBody, ReceiptKind, type ServerFrame } from "./frames.js";

// Schemas of the server's frames, for the machine-readable protocol (docs/protocol/*.json,
// docs/asyncapi.yaml): the server builds these frames from the TypeScript types in
// frames.ts and never parses them, so these schemas exist for documentation and clients.
// The check at the bottom fails to compile when they and the types drift apart.

const Timestamp = z.iso.datetime().describe("ISO 8601 in UTC with milliseconds, set by the server");
const Cursor = z.number().int().nonnegative();
const Seq = z.number().int().positive();

export const MessageSchema = z
  .object({
    messageId: z.string().describe("ULID assigned by the server"),
    conversationId: ConversationId,
    seq: Seq.describe("position in the conversation: 1, 2, 3... identical on every device of every member"),
    senderId: UserId,
    senderDeviceId: DeviceId,
    recipientId: UserId.optional().describe("direct messages only"),
    groupId: GroupId.optional().describe("group messages only"),
    clientMessageId: z.string(),
    body: MessageBody,
    sentAt: Timestamp,
  })
  .meta({ id: "Message" });

export const ReceiptSchema = z
  .object({ conversationId: ConversationId, userId: UserId.describe("who delivered or read"), kind: ReceiptKind, upToSeq: z.number().int(), at: Timestamp })
  .meta({ id: "Receipt" });

export const GroupMembershipChangeSchema = z
  .object({ groupId: GroupId, change: z.enum(["added", "removed", "role"]), role: GroupRole.nullable(), by: UserId, at: Timestamp })
  .meta({ id: "GroupMembershipChange" });

export const InboxEventSchema = z
  .discriminatedUnion("type", [
    z.object({ cursor: Cursor, type: z.literal("message"), message: MessageSchema }),
    z.object({ cursor: Cursor, type: z.literal("receipt"), receipt: ReceiptSchema }),
    z.object({ cursor: Cursor, type: z.literal("group"), group: GroupMembershipChangeSchema }),
  ])
  .meta({ id: "InboxEvent" });

const GroupInfoSchema = z
  .object({
    groupId: GroupId,
    name: z.string(),
    createdBy: UserId,
    createdAt: Timestamp,
    memberCount: z.number().int(),
    maxMembers: z.number().int(),
    role: GroupRole.describe("the caller's role"),
    lastSeq: z.number().int(),
  })
  .meta({ id: "GroupInfo" });

const GroupSummarySchema = z
  .object({ groupId: GroupId, name: z.string(), role: GroupRole, lastSeq: z.number().int(), readSeq: z.number().int().describe("the caller's read mark"), unread: z.number().int() })
  .meta({ id: "GroupSummary" });

const PresenceViewSchema = z
  .object({ userId: UserId, online: z.boolean().nullable().describe("null when the user's visibility setting hides it from the caller"), lastSeen: Timestamp.nullable() })
  .meta({ id: "PresenceView" });

const ServerLimitsSchema = z.object({
  maxFrameBytes: z.number().int(),
  framesPerSecond: z.number(),
  frameBurst: z.number().int(),
  maxTextLength: z.number().int(),
  maxPageSize: z.number().int(),
  maxGroupMembers: z.number().int(),
});

const ReplyId = z.string().describe("the id of the client frame this answers");

export const ServerFrameSchema = z
  .discriminatedUnion("type", [
    z
      .object({
        type: z.literal("hello"),
        protocol: z.number().int(),
        userId: UserId,
        deviceId: DeviceId,
        connectionId: z.string(),
        heartbeatIntervalMs: z.number().int(),
        limits: ServerLimitsSchema,
        tokenExpiresAt: Timestamp,
      })
      .meta({ id: "HelloFrame" }),
    z.object({ type: z.literal("ack"), id: ReplyId, message: MessageSchema, duplicate: z.boolean() }).meta({ id: "AckFrame" }),
    z.object({ type: z.literal("receipt.ok"), id: ReplyId, receipt: ReceiptSchema, changed: z.boolean() }).meta({ id: "ReceiptOkFrame" }),
    z.object({ type: z.literal("sync.batch"), id: ReplyId, events: z.array(InboxEventSchema), cursor: Cursor, hasMore: z.boolean() }).meta({ id: "SyncBatchFrame" }),
    z
      .object({ type: z.literal("history.page"), id: ReplyId, conversationId: ConversationId, messages: z.array(MessageSchema), hasMore: z.boolean() })
      .meta({ id: "HistoryPageFrame" }),
    z.object({ type: z.literal("group"), id: ReplyId, group: GroupInfoSchema }).meta({ id: "GroupFrame" }),
    z
      .object({ type: z.literal("group.members.page"), id: ReplyId, groupId: GroupId, members: z.array(z.object({ userId: UserId, role: GroupRole })), hasMore: z.boolean() })
      .meta({ id: "GroupMembersPageFrame" }),
    z.object({ type: z.literal("group.list"), id: ReplyId, groups: z.array(GroupSummarySchema) }).meta({ id: "GroupListReplyFrame" }),
    z.object({ type: z.literal("presence.state"), id: ReplyId, users: z.array(PresenceViewSchema) }).meta({ id: "PresenceStateFrame" }),
    z.object({ type: z.literal("ok"), id: ReplyId }).meta({ id: "OkFrame" }),
    z.object({ type: z.literal("pong"), id: ReplyId }).meta({ id: "PongFrame" }),
    z.object({ type: z.literal("event"), event: InboxEventSchema }).meta({ id: "EventFrame" }),
    z.object({ type: z.literal("group.messages"), tier: z.enum(["realtime", "batched"]), messages: z.array(MessageSchema) }).meta({ id: "GroupMessagesFrame" }),
    z.object({ type: z.literal("presence"), presence: PresenceViewSchema }).meta({ id: "PresenceFrame" }),
    z.object({ type: z.literal("typing"), conversationId: ConversationId, userId: UserId }).meta({ id: "TypingPushFrame" }),
    z
      .object({
        type: z.literal("error"),
        id: ReplyId.optional(),
        code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
        message: z.string(),
        retryAfterMs: z.number().int().optional(),
      })
      .meta({ id: "ErrorFrame" }),
    z.object({ type: z.literal("reconnect"), reason: z.enum(["shutdown", "drain"]), retryAfterMs: z.number().int() }).meta({ id: "ReconnectFrame" }),
    z.object({ type: z.literal("reauthenticate"), reason: z.literal("token_expired"), expiredAt: Timestamp }).meta({ id: "ReauthenticateFrame" }),
  ])
  .meta({ id: "ServerFrame" });

// Compile-time check: the schemas describe exactly the frames the server sends.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type ServerFrameSchemaMatchesServerFrame = Assert<Same<z.infer<typeof ServerFrameSchema>, ServerFrame>>;
