import type { DeliveryRouter } from "../delivery/delivery-router.js";
import type { NotificationRequest } from "../events/notification-request.js";
import { notificationTopic } from "../events/topics.js";
import { publishTo, type EventBus } from "../ports/event-bus.js";
import type { AppendedMessage, MessageStore, Page } from "../ports/message-store.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { InboxEvent, Message, MessageBody, Receipt, ReceiptKind } from "../protocol/frames.js";
import { directConversationId, type ConversationId, type UserId } from "../protocol/ids.js";
import type { Logger } from "../runtime/logger.js";
import type { ConversationAccess } from "../conversations/conversation-access.js";
import type { MessageWriter, Sender } from "../conversations/message-writer.js";

export const DEFAULT_PAGE_SIZE = 50;

export interface ChatDependencies {
  store: MessageStore;
  access: ConversationAccess;
  writer: MessageWriter;
  router: DeliveryRouter;
  /** Where notification requests for offline recipients go; the notifier limits them per user. */
  bus: EventBus;
  clusterName: string;
  logger: Logger;
  clock?: () => Date;
}

/**
 * 1:1 messaging, and what every conversation shares: stores each message before
 * acknowledging it, delivers it to every connected device of both participants, keeps
 * receipts, serves sync and history. Every read and write checks access first.
 */
export class ChatService {
  private readonly clock: () => Date;

  constructor(private readonly deps: ChatDependencies) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /** Resolves once the message is stored; delivery to devices follows without blocking the ack. */
  async send(sender: Sender, to: UserId, clientMessageId: string, body: MessageBody): Promise<{ message: Message; duplicate: boolean }> {
    await this.deps.writer.attach(sender.userId, body, directConversationId(sender.userId, to));
    const appended = await this.deps.writer.append(() =>
      this.deps.store.appendDirectMessage({
        senderId: sender.userId,
        senderDeviceId: sender.deviceId,
        recipientId: to,
        clientMessageId,
        body,
        sentAt: this.clock(),
      }),
    );
    if (!appended.duplicate) this.deliverInBackground(appended, to);
    return { message: appended.message, duplicate: appended.duplicate };
  }

  async receipt(userId: UserId, conversationId: ConversationId, kind: ReceiptKind, upToSeq: number): Promise<{ receipt: Receipt; changed: boolean }> {
    await this.authorize(userId, conversationId);
    const recorded = await this.deps.store.recordReceipt({ conversationId, userId, kind, upToSeq, at: this.clock() });
    if (recorded === null) throw new ProtocolError(ErrorCode.notFound, `conversation ${conversationId} has no messages`);
    if (recorded.changed) {
      this.deps.router.deliverInboxEvents(recorded.events, new Date(recorded.receipt.at)).catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, "live receipt delivery failed; devices will sync");
      });
    }
    return { receipt: recorded.receipt, changed: recorded.changed };
  }

  sync(userId: UserId, after: number, limit = DEFAULT_PAGE_SIZE): Promise<Page<InboxEvent>> {
    return this.deps.store.readInbox(userId, after, limit);
  }

  async history(userId: UserId, conversationId: ConversationId, range: { before?: number; after?: number }, limit = DEFAULT_PAGE_SIZE): Promise<Page<Message>> {
    await this.authorize(userId, conversationId);
    return this.deps.store.readConversation(conversationId, range, limit);
  }

  private async authorize(userId: UserId, conversationId: ConversationId): Promise<void> {
    if (!(await this.deps.access.canAccess(userId, conversationId))) {
      throw new ProtocolError(ErrorCode.forbidden, `you do not take part in conversation ${conversationId}`);
    }
  }

  /**
   * A failed live delivery loses nothing: the events are stored, and the devices find
   * them on their next sync. So it is logged, not returned to the sender. A recipient
   * with no device connected gets a notification request instead, as an offline group
   * member does.
   */
  private deliverInBackground(appended: AppendedMessage, recipient: UserId): void {
    const { message } = appended;
    const storedAt = Date.parse(message.sentAt);
    const deliveries = appended.events.map(async ({ userId, event }) => {
      const devices = await this.deps.router.pushToUser(userId, { type: "event", event }, storedAt);
      if (devices > 0 || userId !== recipient || recipient === message.senderId) return;
      const request: NotificationRequest = { userIds: [userId], conversationId: message.conversationId, messageId: message.messageId, senderId: message.senderId, seq: message.seq };
      await publishTo(this.deps.bus, notificationTopic(this.deps.clusterName), message.conversationId, request);
    });
    Promise.all(deliveries).catch((error: unknown) => {
      this.deps.logger.warn({ err: error }, "live delivery or notification request failed; recipients will sync");
    });
  }
}
