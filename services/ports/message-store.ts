import type { ConversationId, UserId } from "../protocol/ids.js";
import type { InboxEvent, Message, MessageBody, Receipt, ReceiptKind } from "../protocol/frames.js";

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
   * Advances `userId`'s delivered or read mark in a conversation to `upToSeq`, clamped to
   * the conversation's last seq. Marks only move forward: an older or equal receipt
   * returns `changed: false` and appends nothing. A change appends one inbox event for
   * each participant. Returns null when the conversation has no messages.
   */
  recordReceipt(input: NewReceipt): Promise<RecordedReceipt | null>;

  /** Inbox events of `userId` with cursor greater than `after`, oldest first. */
  readInbox(userId: UserId, after: number, limit: number): Promise<Page<InboxEvent>>;

  /** Messages of a conversation with seq below `before` (or the newest), newest first. */
  readConversation(conversationId: ConversationId, before: number | undefined, limit: number): Promise<Page<Message>>;

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
