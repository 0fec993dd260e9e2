import type { AssetId, ConversationId, UserId } from "../protocol/ids.js";

/**
 * What the messaging services need from the asset service: whether a sender may attach
 * assets, and to record where they were shared (which is what lets the conversation's
 * participants download them).
 */
export interface AssetAttachments {
  /** Throws a ProtocolError (not_found or forbidden) unless `userId` may attach every asset. */
  checkAttachable(userId: UserId, assetIds: readonly AssetId[]): Promise<void>;
  recordShare(assetIds: readonly AssetId[], conversationId: ConversationId): Promise<void>;
}
