import type { DeliveryRouter } from "../delivery/delivery-router.js";
import { ClientMessageIdConflictError, type MessageStore, type Page } from "../ports/message-store.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { InboxEvent, Message, MessageBody, Receipt, ReceiptKind } from "../protocol/frames.js";
import { directParticipants, type ConversationId, type UserId } from "../protocol/ids.js";
import type { Logger } from "../platform/logger.js";
import type { Metrics } from "../platform/metrics.js";

export const DEFAULT_PAGE_SIZE = 50;

export interface Sender {
  userId: UserId;
  deviceId: string;
}

/**
 * 1:1 messaging: stores each message before acknowledging it, then delivers it to every
 * connected device of both participants; keeps receipts; serves sync and history.
 * Every read and write checks that the caller takes part in the conversation.
 */
export class ChatService {
  constructor(
    private readonly store: MessageStore,
    private readonly router: DeliveryRouter,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Resolves once the message is stored; delivery to devices follows without blocking the ack. */
  async send(sender: Sender, to: UserId, clientMessageId: string, body: MessageBody): Promise<{ message: Message; duplicate: boolean }> {
    let appended;
    try {
      appended = await this.store.appendDirectMessage({
        senderId: sender.userId,
        senderDeviceId: sender.deviceId,
        recipientId: to,
        clientMessageId,
        body,
        sentAt: this.clock(),
      });
    } catch (error) {
      if (error instanceof ClientMessageIdConflictError) throw new ProtocolError(ErrorCode.invalidFrame, error.message);
      throw error;
    }
    if (!appended.duplicate) {
      this.metrics.messagesStored.inc();
      this.deliverInBackground(appended.events, new Date(appended.message.sentAt));
    }
    return { message: appended.message, duplicate: appended.duplicate };
  }

  async receipt(userId: UserId, conversationId: ConversationId, kind: ReceiptKind, upToSeq: number): Promise<{ receipt: Receipt; changed: boolean }> {
    this.authorize(userId, conversationId);
    const recorded = await this.store.recordReceipt({ conversationId, userId, kind, upToSeq, at: this.clock() });
    if (recorded === null) throw new ProtocolError(ErrorCode.notFound, `conversation ${conversationId} has no messages`);
    if (recorded.changed) this.deliverInBackground(recorded.events, new Date(recorded.receipt.at));
    return { receipt: recorded.receipt, changed: recorded.changed };
  }

  sync(userId: UserId, after: number, limit = DEFAULT_PAGE_SIZE): Promise<Page<InboxEvent>> {
    return this.store.readInbox(userId, after, limit);
  }

  history(userId: UserId, conversationId: ConversationId, before: number | undefined, limit = DEFAULT_PAGE_SIZE): Promise<Page<Message>> {
    this.authorize(userId, conversationId);
    return this.store.readConversation(conversationId, before, limit);
  }

  private authorize(userId: UserId, conversationId: ConversationId): void {
    const participants = directParticipants(conversationId);
    if (participants === null || !participants.includes(userId)) {
      throw new ProtocolError(ErrorCode.forbidden, `you do not take part in conversation ${conversationId}`);
    }
  }

  /**
   * A failed live delivery loses nothing: the events are stored, and the devices find
   * them on their next sync. So it is logged, not returned to the sender.
   */
  private deliverInBackground(events: Parameters<DeliveryRouter["deliver"]>[0], storedAt: Date): void {
    this.router.deliver(events, storedAt).catch((error: unknown) => {
      this.logger.warn({ err: error }, "live delivery failed; recipients will sync");
    });
  }
}
