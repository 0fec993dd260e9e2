import { randomUUID } from "node:crypto";
import type { Client, types } from "cassandra-driver";
import type { AssetId, ConversationId } from "../../protocol/ids.js";
import { AssetExistsError, type AssetRecord, type AssetStore } from "../../ports/asset-store.js";
import { checkedKeyspace, resolveConsistency, retryTransient, settleWithin, type CassandraOptions, type ResolvedConsistency } from "./cassandra-options.js";
import { connectAndMigrate } from "./migrations.js";
import { bigintOf, textOf, timestampOf } from "./rows.js";

/**
 * The production asset store (tables `assets` and `asset_shares`, migration 3). An asset
 * is created with INSERT IF NOT EXISTS, so an id is never overwritten (a random token per
 * create() call tells its own timed-out attempt from a real clash); shares are one
 * clustering row per conversation under the asset, so sharing again is a no-op and
 * sharedIn is a single-partition read.
 */
export class CassandraAssetStore implements AssetStore {
  private readonly cql;
  private readonly consistency: ResolvedConsistency;
  private closed = false;

  static async open(options: CassandraOptions): Promise<CassandraAssetStore> {
    return new CassandraAssetStore(await connectAndMigrate(options), options, true);
  }

  constructor(
    private readonly client: Client,
    options: Pick<CassandraOptions, "keyspace" | "consistency">,
    private readonly ownsClient = false,
  ) {
    this.consistency = resolveConsistency(options.consistency);
    const ks = checkedKeyspace(options.keyspace);
    this.cql = {
      create: `INSERT INTO ${ks}.assets (asset_id, owner_id, sha256, size, content_type, created_at, create_token) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
      get: `SELECT asset_id, owner_id, sha256, size, content_type, created_at FROM ${ks}.assets WHERE asset_id = ?`,
      share: `INSERT INTO ${ks}.asset_shares (asset_id, conversation_id) VALUES (?, ?)`,
      sharedIn: `SELECT conversation_id FROM ${ks}.asset_shares WHERE asset_id = ?`,
    };
  }

  async create(asset: AssetRecord): Promise<void> {
    const token = randomUUID();
    const outcome = await retryTransient(() =>
      settleWithin(
        this.client.execute(
          this.cql.create,
          [asset.assetId, asset.ownerId, asset.sha256, asset.size, asset.contentType, asset.createdAt, token],
          { prepare: true, consistency: this.consistency.write, serialConsistency: this.consistency.serial },
        ),
      ),
    );
    const existing = outcome.rows[0];
    // Not applied: the id is taken, unless by this very call (an attempt that timed out).
    if (!outcome.wasApplied() && existing?.get("create_token") !== token) throw new AssetExistsError(asset.assetId);
  }

  async get(assetId: AssetId): Promise<AssetRecord | null> {
    const row = (await this.execute(this.cql.get, [assetId], this.consistency.read)).rows[0];
    return row ? recordOf(row) : null;
  }

  async recordShare(assetIds: readonly AssetId[], conversationId: ConversationId): Promise<void> {
    await Promise.all([...new Set(assetIds)].map((assetId) => this.execute(this.cql.share, [assetId, conversationId], this.consistency.write)));
  }

  async sharedIn(assetId: AssetId): Promise<ConversationId[]> {
    const result = await this.execute(this.cql.sharedIn, [assetId], this.consistency.read);
    return result.rows.map((row) => textOf(row, "conversation_id"));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.client.shutdown();
  }

  private execute(query: string, params: unknown[], consistency: types.consistencies): Promise<types.ResultSet> {
    return settleWithin(this.client.execute(query, params, { prepare: true, consistency }));
  }
}

function recordOf(row: types.Row): AssetRecord {
  return {
    assetId: textOf(row, "asset_id"),
    ownerId: textOf(row, "owner_id"),
    sha256: textOf(row, "sha256"),
    size: bigintOf(row, "size"),
    contentType: textOf(row, "content_type"),
    createdAt: timestampOf(row, "created_at"),
  };
}
