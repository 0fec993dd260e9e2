import { ClientMessageIdConflictError, type AppendedMessage } from "../ports/message-store.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { MessageBody } from "../protocol/frames.js";
import type { ConversationId, UserId } from "../protocol/ids.js";
import type { Metrics } from "../runtime/metrics.js";
import type { AssetAttachments } from "./asset-attachments.js";

/** Who sent a message: the user and the device it came from. */
export interface Sender {
  userId: UserId;
  deviceId: string;
}

/**
 * What every conversation does before a message is acknowledged, direct or group: the
 * assets it carries are checked and shared with the conversation, then the message is
 * appended once. Chat and groups both write through here, so the two cannot drift.
 */
export class MessageWriter {
  constructor(private readonly deps: { assets: AssetAttachments; metrics: Metrics }) {}

  /** Checks and records the assets a message carries, before the message is stored. */
  async attach(userId: UserId, body: MessageBody, conversationId: ConversationId): Promise<void> {
    if (!body.assets) return;
    await this.deps.assets.checkAttachable(userId, body.assets);
    await this.deps.assets.recordShare(body.assets, conversationId);
  }

  /** Runs a store append, turning a reused client message id into a protocol error. */
  async append(append: () => Promise<AppendedMessage>): Promise<AppendedMessage> {
    try {
      const appended = await append();
      if (!appended.duplicate) this.deps.metrics.messagesStored.inc();
      return appended;
    } catch (error) {
      if (error instanceof ClientMessageIdConflictError) throw new ProtocolError(ErrorCode.invalidFrame, error.message);
      throw error;
    }
  }
}
