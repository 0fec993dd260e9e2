import { openSqlite, prepare, transaction, type Sqlite } from "./sqlite.js";
import type { AssetId, ConversationId } from "../../protocol/ids.js";
import { AssetExistsError, type AssetRecord, type AssetStore } from "../../ports/asset-store.js";

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS assets (
  asset_id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS asset_shares (
  asset_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  PRIMARY KEY (asset_id, conversation_id)
) WITHOUT ROWID;
`;

interface AssetRow {
  asset_id: string;
  owner_id: string;
  sha256: string;
  size: number;
  content_type: string;
  created_at: number;
}

/**
 * The embedded asset store: assets.db in the data directory, two SQLite tables written
 * with synchronous=FULL, so a resolved create or share has reached the disk.
 */
export class SqliteAssetStore implements AssetStore {
  private readonly db: Sqlite;
  private readonly statements;
  private readonly shareAll: (assetIds: readonly AssetId[], conversationId: ConversationId) => void;

  constructor(path: string) {
    this.db = openSqlite(path);
    this.migrate();
    this.statements = {
      insert: prepare(this.db,
        "INSERT INTO assets (asset_id, owner_id, sha256, size, content_type, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (asset_id) DO NOTHING",
      ),
      get: prepare<[string], AssetRow>(this.db,
        "SELECT asset_id, owner_id, sha256, size, content_type, created_at FROM assets WHERE asset_id = ?",
      ),
      share: prepare(this.db, "INSERT INTO asset_shares (asset_id, conversation_id) VALUES (?, ?) ON CONFLICT DO NOTHING"),
      sharedIn: prepare<[string], { conversation_id: string }>(this.db, "SELECT conversation_id FROM asset_shares WHERE asset_id = ?"),
    };
    this.shareAll = transaction(this.db, (assetIds: readonly AssetId[], conversationId: ConversationId) => {
      for (const assetId of assetIds) this.statements.share.run(assetId, conversationId);
    });
  }

  create(asset: AssetRecord): Promise<void> {
    const result = this.statements.insert.run(
      asset.assetId,
      asset.ownerId,
      asset.sha256,
      asset.size,
      asset.contentType,
      asset.createdAt.getTime(),
    );
    if (result.changes === 0) return Promise.reject(new AssetExistsError(asset.assetId));
    return Promise.resolve();
  }

  get(assetId: AssetId): Promise<AssetRecord | null> {
    const row = this.statements.get.get(assetId);
    if (row === undefined) return Promise.resolve(null);
    return Promise.resolve({
      assetId: row.asset_id,
      ownerId: row.owner_id,
      sha256: row.sha256,
      size: row.size,
      contentType: row.content_type,
      createdAt: new Date(row.created_at),
    });
  }

  recordShare(assetIds: readonly AssetId[], conversationId: ConversationId): Promise<void> {
    if (assetIds.length > 0) this.shareAll(assetIds, conversationId);
    return Promise.resolve();
  }

  sharedIn(assetId: AssetId): Promise<ConversationId[]> {
    return Promise.resolve(this.statements.sharedIn.all(assetId).map((row) => row.conversation_id));
  }

  close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }

  private migrate(): void {
    this.db.exec(SCHEMA);
    const row = prepare<[], { version: number }>(this.db, "SELECT version FROM schema_version").get();
    if (row === undefined) {
      prepare(this.db, "INSERT INTO schema_version (version) VALUES (?)").run(SCHEMA_VERSION);
    } else if (row.version > SCHEMA_VERSION) {
      throw new Error(`assets.db holds schema version ${row.version}, newer than this build's ${SCHEMA_VERSION}`);
    }
  }
}
