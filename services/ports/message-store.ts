import type { ConversationId, GroupId, UserId } from "../protocol/ids.js";
import type { GroupMembershipChange, InboxEvent, Message, MessageBody, Receipt, ReceiptKind } from "../protocol/frames.js";

/**
 * Durable home of messages, per-conversation order and per-user inboxes.
 *
 * Every adapter runs services/ports/contract/message-store.contract.ts; the contract,
 * not any one adapter, defines the semantics below.
 */
export interface MessageStore {
  /**
   * Stores a direct message once per (senderId, clientMessageId): assigns the next
   * conversation seq and appends one inbox event for each participant. A repeat of a
   * stored (senderId, clientMessageId) returns the stored message with `duplicate: true`
   * and appends nothing; a repeat with another recipient or body throws
   * ClientMessageIdConflictError. When the promise resolves, the message is durable.
   */
  appendDirectMessage(input: NewDirectMessage): Promise<AppendedMessage>;

  /**
   * Stores a group message once per (senderId, clientMessageId), with the next
   * seq of the group's conversation. It appends no inbox events: group messages are read
   * per conversation. Repeats behave as for direct messages: a clientMessageId is unique
   * per sender across all of the sender's conversations.
   */
  appendGroupMessage(input: NewGroupMessage): Promise<AppendedMessage>;

  /** Appends a group membership change to one user's inbox. */
  appendMembershipChange(userId: UserId, change: GroupMembershipChange): Promise<AppendedEvent>;

  /**
   * Advances `userId`'s delivered or read mark in a conversation to `upToSeq`, clamped to
   * the conversation's last seq. Marks only move forward: an older or equal receipt
   * returns `changed: false` and appends nothing. A change appends one inbox event for
   * each participant of a direct conversation, or for `userId` alone in a group
   * conversation. Returns null when the conversation has no messages.
   */
  recordReceipt(input: NewReceipt): Promise<RecordedReceipt | null>;

  /** Inbox events of `userId` with cursor greater than `after`, oldest first. */
  readInbox(userId: UserId, after: number, limit: number): Promise<Page<InboxEvent>>;

  /**
   * A page of a conversation: with `after`, the messages with seq above it, oldest first
   * (catching up); otherwise those below `before` (or the newest), newest first (history).
   */
  readConversation(conversationId: ConversationId, range: { before?: number; after?: number }, limit: number): Promise<Page<Message>>;

  /** Last seq and `userId`'s read mark for each conversation named (0 where none). */
  conversationStates(userId: UserId, conversationIds: readonly ConversationId[]): Promise<Map<ConversationId, ConversationState>>;

  /**
   * For each conversation named, the participants who have sent at least one message in
   * it, if it is a direct conversation; an empty set for a direct conversation without
   * messages and for any other id. Presence reads it: two users are contacts only when
   * each has sent the other a message, so one side cannot make itself a contact alone.
   */
  directSenders(conversationIds: readonly ConversationId[]): Promise<Map<ConversationId, Set<UserId>>>;

  close(): Promise<void>;
}

export interface NewDirectMessage {
  senderId: UserId;
  senderDeviceId: string;
  recipientId: UserId;
  clientMessageId: string;
  body: MessageBody;
  sentAt: Date;
}

export interface NewGroupMessage {
  groupId: GroupId;
  senderId: UserId;
  senderDeviceId: string;
  clientMessageId: string;
  body: MessageBody;
  sentAt: Date;
}

export interface ConversationState {
  lastSeq: number;
  readSeq: number;
}

export interface NewReceipt {
  conversationId: ConversationId;
  userId: UserId;
  kind: ReceiptKind;
  upToSeq: number;
  at: Date;
}

/** An inbox event together with the user whose inbox it was appended to. */
export interface AppendedEvent {
  userId: UserId;
  event: InboxEvent;
}

export interface AppendedMessage {
  message: Message;
  duplicate: boolean;
  events: AppendedEvent[];
}

export interface RecordedReceipt {
  receipt: Receipt;
  changed: boolean;
  events: AppendedEvent[];
}

export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

export class ClientMessageIdConflictError extends Error {
  constructor(readonly clientMessageId: string) {
    super(`clientMessageId ${JSON.stringify(clientMessageId)} was already used for a different message`);
    this.name = "ClientMessageIdConflictError";
  }
}
