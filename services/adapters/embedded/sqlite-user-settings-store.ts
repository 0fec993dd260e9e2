import { openSqlite, prepare, transaction, type Sqlite } from "./sqlite.js";
import { LastSeenVisibility } from "../../protocol/frames.js";
import type { UserId } from "../../protocol/ids.js";
import { DEFAULT_USER_SETTINGS, type UserSettings, type UserSettingsStore } from "../../ports/user-settings-store.js";

const SCHEMA_VERSION = 1;

/** One nullable column per setting: NULL is "never set", read as the default. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_settings (
  user_id TEXT PRIMARY KEY,
  last_seen_visibility TEXT
) WITHOUT ROWID;
`;

interface Row {
  user_id: string;
  last_seen_visibility: string | null;
}

/** The embedded user settings store: one SQLite file (settings.db in the data directory). */
export class SqliteUserSettingsStore implements UserSettingsStore {
  private readonly db: Sqlite;
  private readonly statements;

  constructor(path: string) {
    this.db = openSqlite(path);
    this.migrate();
    this.statements = {
      get: prepare<[string], Row>(this.db, "SELECT user_id, last_seen_visibility FROM user_settings WHERE user_id = ?"),
      upsert: prepare<[string, string | null]>(this.db,
        "INSERT INTO user_settings (user_id, last_seen_visibility) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET last_seen_visibility = excluded.last_seen_visibility",
      ),
    };
  }

  get(userId: UserId): Promise<UserSettings> {
    return Promise.resolve(settingsOf(this.statements.get.get(userId)));
  }

  getMany(userIds: readonly UserId[]): Promise<Map<UserId, UserSettings>> {
    const settings = new Map<UserId, UserSettings>();
    for (const userId of userIds) {
      if (!settings.has(userId)) settings.set(userId, settingsOf(this.statements.get.get(userId)));
    }
    return Promise.resolve(settings);
  }

  update(userId: UserId, changes: Partial<UserSettings>): Promise<{ before: UserSettings; after: UserSettings }> {
    return Promise.resolve(this.updateTransaction(userId, changes));
  }

  close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }

  private readonly updateTransaction = (userId: UserId, changes: Partial<UserSettings>): { before: UserSettings; after: UserSettings } =>
    transaction(this.db, () => {
      const row = this.statements.get.get(userId);
      const before = settingsOf(row);
      const visibility = changes.lastSeenVisibility ?? row?.last_seen_visibility ?? null;
      this.statements.upsert.run(userId, visibility);
      return { before, after: settingsOf(this.statements.get.get(userId)) };
    })();

  private migrate(): void {
    this.db.exec(SCHEMA);
    const row = prepare<[], { version: number }>(this.db, "SELECT version FROM schema_version").get();
    if (row === undefined) {
      prepare(this.db, "INSERT INTO schema_version (version) VALUES (?)").run(SCHEMA_VERSION);
    } else if (row.version > SCHEMA_VERSION) {
      throw new Error(`data directory holds settings schema version ${row.version}, newer than this build's ${SCHEMA_VERSION}`);
    }
  }
}

function settingsOf(row: Row | undefined): UserSettings {
  // A value this build does not know (written by a newer one) reads as the default.
  const visibility = LastSeenVisibility.safeParse(row?.last_seen_visibility);
  return { lastSeenVisibility: visibility.success ? visibility.data : DEFAULT_USER_SETTINGS.lastSeenVisibility };
}
