import type { LastSeenVisibility } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";

/** What a user has chosen; every field has a default, so a user who never chose has settings too. */
export interface UserSettings {
  /** Who may see the user's online state and last-seen time. */
  lastSeenVisibility: LastSeenVisibility;
}

export const DEFAULT_USER_SETTINGS: Readonly<UserSettings> = Object.freeze({ lastSeenVisibility: "contacts" });

/**
 * Per-user settings (Cassandra in production). Durable: a setting survives restarts.
 *
 * Every adapter runs services/ports/contract/user-settings-store.contract.ts.
 */
export interface UserSettingsStore {
  /** A user's settings, with the defaults for whatever they never set. */
  get(userId: UserId): Promise<UserSettings>;
  /** Settings of several users at once (one entry per distinct id), defaults filled in. */
  getMany(userIds: readonly UserId[]): Promise<Map<UserId, UserSettings>>;
  /**
   * Changes the fields given and keeps the others; resolves with the settings before and
   * after, once the change is durable.
   */
  update(userId: UserId, changes: Partial<UserSettings>): Promise<{ before: UserSettings; after: UserSettings }>;
  close(): Promise<void>;
}
