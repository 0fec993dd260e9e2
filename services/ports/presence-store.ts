import type { DeviceId, UserId } from "../protocol/ids.js";

/**
 * Online state and last-seen time per user (Redis in production). A user is online while
 * any of their devices holds an unexpired mark, so a device that crashes without saying
 * goodbye goes offline when its mark expires.
 *
 * The store also says when a user's online state changes, so that the presence service
 * can tell subscribers: markOnline and markOffline report it atomically, and expire()
 * reports users whose last mark lapsed. A mark past its TTL no longer counts as online
 * for get() and markOnline, but it stays held until markOffline or expire() ends it; so
 * a user who came online is reported offline exactly once, by whichever ends the last
 * mark. (A Redis adapter keeps the expiry times itself, in a sorted set, rather than
 * relying on key TTLs, which would end marks without anyone being told.)
 */
export interface PresenceStore {
  /**
   * Sets or extends one mark of `userId` to expire `ttlMs` from now on the store's clock,
   * and records `at` as a sighting. `changed`: the user was offline (no unexpired mark).
   */
  markOnline(userId: UserId, deviceId: DeviceId, ttlMs: number, at: Date): Promise<PresenceChange>;
  /**
   * Ends one mark (and any of the user's marks past their TTL) and records `at` as a
   * sighting. `changed`: the user held a mark not yet ended, even a lapsed one, and now
   * holds none, so a disconnect that arrives after the mark lapsed still reports it once.
   */
  markOffline(userId: UserId, deviceId: DeviceId, at: Date): Promise<PresenceChange>;
  get(userId: UserId): Promise<Presence>;
  /**
   * Ends every mark past its TTL and returns the users this left without a mark, with
   * when they were last seen. Each such user is returned by one call only, even when
   * several presence service instances sweep the same store at once.
   */
  expire(): Promise<ExpiredPresence[]>;
  close(): Promise<void>;
}

/** A user's presence after a mark changed, and whether their online state flipped. */
export interface PresenceChange {
  changed: boolean;
  presence: Presence;
}

/** A user whose last mark lapsed: a crashed device, or a gateway that died. */
export interface ExpiredPresence {
  userId: UserId;
  lastSeen: Date;
}

export interface Presence {
  online: boolean;
  /** Last time any device was seen: a connect, heartbeat or disconnect. Null if never. */
  lastSeen: Date | null;
}
