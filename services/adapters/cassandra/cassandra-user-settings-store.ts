import type { Client, types } from "cassandra-driver";
import { LastSeenVisibility } from "../../protocol/frames.js";
import type { UserId } from "../../protocol/ids.js";
import { DEFAULT_USER_SETTINGS, type UserSettings, type UserSettingsStore } from "../../ports/user-settings-store.js";
import { checkedKeyspace, resolveConsistency, retryTransient, settleWithin, type CassandraOptions, type ResolvedConsistency } from "./cassandra-options.js";
import { connectAndMigrate } from "./migrations.js";
import { optionalTextOf } from "./rows.js";

/**
 * The production user settings store (table `user_settings`, migration 3): one row per
 * user who ever chose something, one nullable column per setting (null reads as the
 * default). An update is a lightweight transaction conditioned on the value it replaces,
 * so the `before` it reports is exact even when two devices change a setting at once.
 */
export class CassandraUserSettingsStore implements UserSettingsStore {
  private readonly cql;
  private readonly consistency: ResolvedConsistency;
  private closed = false;

  static async open(options: CassandraOptions): Promise<CassandraUserSettingsStore> {
    return new CassandraUserSettingsStore(await connectAndMigrate(options), options, true);
  }

  constructor(
    private readonly client: Client,
    options: Pick<CassandraOptions, "keyspace" | "consistency">,
    private readonly ownsClient = false,
  ) {
    this.consistency = resolveConsistency(options.consistency);
    const ks = checkedKeyspace(options.keyspace);
    this.cql = {
      get: `SELECT last_seen_visibility FROM ${ks}.user_settings WHERE user_id = ?`,
      insert: `INSERT INTO ${ks}.user_settings (user_id, last_seen_visibility) VALUES (?, ?) IF NOT EXISTS`,
      update: `UPDATE ${ks}.user_settings SET last_seen_visibility = ? WHERE user_id = ? IF last_seen_visibility = ?`,
    };
  }

  async get(userId: UserId): Promise<UserSettings> {
    return settingsOf((await this.read(userId, this.consistency.read)).raw);
  }

  async getMany(userIds: readonly UserId[]): Promise<Map<UserId, UserSettings>> {
    const unique = [...new Set(userIds)];
    return new Map(await Promise.all(unique.map(async (userId): Promise<[UserId, UserSettings]> => [userId, await this.get(userId)])));
  }

  update(userId: UserId, changes: Partial<UserSettings>): Promise<{ before: UserSettings; after: UserSettings }> {
    return retryTransient(async () => {
      for (let attempt = 1; ; attempt++) {
        const current = await this.read(userId, this.consistency.serial);
        const before = settingsOf(current.raw);
        if (changes.lastSeenVisibility === undefined) return { before, after: before };
        const outcome = current.exists
          ? await this.lwt(this.cql.update, [changes.lastSeenVisibility, userId, current.raw])
          : await this.lwt(this.cql.insert, [userId, changes.lastSeenVisibility]);
        // Not applied: another update came first; this one applies on top of it.
        if (outcome.wasApplied()) return { before, after: settingsOf(changes.lastSeenVisibility) };
        if (attempt >= 100) throw new Error(`could not update the settings of ${userId}`);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.client.shutdown();
  }

  private async read(userId: UserId, consistency: types.consistencies): Promise<{ exists: boolean; raw: string | null }> {
    const row = (await settleWithin(this.client.execute(this.cql.get, [userId], { prepare: true, consistency }))).rows[0];
    return { exists: row !== undefined, raw: row ? optionalTextOf(row, "last_seen_visibility") : null };
  }

  private lwt(query: string, params: unknown[]): Promise<types.ResultSet> {
    return settleWithin(this.client.execute(query, params, { prepare: true, consistency: this.consistency.write, serialConsistency: this.consistency.serial }));
  }
}

function settingsOf(raw: string | null): UserSettings {
  // A value this build does not know (written by a newer one) reads as the default.
  const visibility = LastSeenVisibility.safeParse(raw);
  return { lastSeenVisibility: visibility.success ? visibility.data : DEFAULT_USER_SETTINGS.lastSeenVisibility };
}
