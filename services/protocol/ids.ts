import { z } from "zod";

/** User ids come from the identity provider (the JWT `sub`); Parley only bounds their shape. */
export const UserId = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, "user ids are 1-64 characters of A-Z a-z 0-9 _ . @ -");
export type UserId = z.infer<typeof UserId>;

/** A device id names one installation of a client; a user may have many. */
export const DeviceId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "device ids are 1-64 characters of A-Z a-z 0-9 _ . -");
export type DeviceId = z.infer<typeof DeviceId>;

/** Chosen by the sender per message so a retried send is recognised, not stored twice. */
export const ClientMessageId = z.string().min(1).max(64);

/** Server-assigned group id: `g` and a ULID. */
export const GroupId = z.string().regex(/^g[0-9A-HJKMNP-TV-Z]{26}$/, "group ids look like g followed by 26 ULID characters");
export type GroupId = z.infer<typeof GroupId>;

/** Server-assigned asset id: `a` and a ULID. */
export const AssetId = z.string().regex(/^a[0-9A-HJKMNP-TV-Z]{26}$/, "asset ids look like a followed by 26 ULID characters");
export type AssetId = z.infer<typeof AssetId>;

/**
 * `dm:<a>:<b>` with the two user ids sorted, so both sides name the same conversation,
 * or `grp:<groupId>` for a group.
 */
export const ConversationId = z
  .string()
  .min(1)
  .max(160)
  .regex(/^(dm:[^:]+:[^:]+|grp:g[0-9A-HJKMNP-TV-Z]{26})$/, "conversation ids look like dm:<user>:<user> or grp:<groupId>");
export type ConversationId = z.infer<typeof ConversationId>;

export function groupConversationId(groupId: GroupId): ConversationId {
  return `grp:${groupId}`;
}

/** The group of a group conversation id, or null when it is not one. */
export function groupOfConversation(conversationId: string): GroupId | null {
  if (!conversationId.startsWith("grp:")) return null;
  const parsed = GroupId.safeParse(conversationId.slice(4));
  return parsed.success ? parsed.data : null;
}

export function directConversationId(a: UserId, b: UserId): ConversationId {
  return a <= b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The participants of the direct conversation of `a` and `b`, in its id's order, once each (a note to self has one). */
export function directPair(a: UserId, b: UserId): [UserId] | [UserId, UserId] {
  if (a === b) return [a];
  return a < b ? [a, b] : [b, a];
}

/** The two participants of a direct conversation, or null when the id is not one. */
export function directParticipants(conversationId: string): [UserId, UserId] | null {
  const parts = conversationId.split(":");
  if (parts.length !== 3 || parts[0] !== "dm") return null;
  const [, a, b] = parts as [string, string, string];
  if (!UserId.safeParse(a).success || !UserId.safeParse(b).success || a > b) return null;
  return [a, b];
}
