import type { AssetId, ConversationId, UserId } from "../protocol/ids.js";

/**
 * Metadata of uploaded assets and the conversations they were shared in (the bytes live
 * in a BlobStore under `sha256/<hex>`). Embedded: SQLite; production: Cassandra.
 *
 * Every adapter runs services/ports/contract/asset-store.contract.ts; the contract, not
 * any one adapter, defines the semantics below.
 */
export interface AssetStore {
  /**
   * Stores a new asset record. Asset ids are unique: creating an id that exists throws
   * AssetExistsError and leaves the stored record as it was. Several records may name
   * the same sha256 (the same bytes uploaded twice, by one user or by several). When the
   * promise resolves, the record is durable.
   */
  create(asset: AssetRecord): Promise<void>;

  /** The record, or null when no asset has that id. Returns every field as created. */
  get(assetId: AssetId): Promise<AssetRecord | null>;

  /**
   * Records that each asset was shared in `conversationId`. Idempotent: sharing an asset
   * in a conversation again changes nothing. The caller has checked that the assets
   * exist; the store does not check. An empty list is a no-op. Durable on resolve.
   */
  recordShare(assetIds: readonly AssetId[], conversationId: ConversationId): Promise<void>;

  /**
   * Every conversation the asset was shared in, each once, in no particular order;
   * empty for an asset never shared or unknown.
   */
  sharedIn(assetId: AssetId): Promise<ConversationId[]>;

  close(): Promise<void>;
}

export interface AssetRecord {
  assetId: AssetId;
  /** The uploader: the only user who may attach it before it is shared. */
  ownerId: UserId;
  /** Lower-case hex SHA-256 of the bytes; the blob key is `sha256/<sha256>`. */
  sha256: string;
  /** Bytes. */
  size: number;
  /** Detected from the bytes at upload, never the client's claim. */
  contentType: string;
  /** Millisecond precision. */
  createdAt: Date;
}

export class AssetExistsError extends Error {
  constructor(readonly assetId: AssetId) {
    super(`asset ${assetId} already exists`);
    this.name = "AssetExistsError";
  }
}
