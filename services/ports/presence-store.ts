import type { DeviceId, UserId } from "../protocol/ids.js";

/**
 * Online state and last-seen time per user (Redis in production). A user is online while
 * any of their devices holds an unexpired mark, so a device that crashes without saying
 * goodbye goes offline when its mark expires.
 */
export interface PresenceStore {
  markOnline(userId: UserId, deviceId: DeviceId, ttlMs: number, at: Date): Promise<void>;
  markOffline(userId: UserId, deviceId: DeviceId, at: Date): Promise<void>;
  get(userId: UserId): Promise<Presence>;
  close(): Promise<void>;
}

export interface Presence {
  online: boolean;
  /** Last time any device was seen: a connect, heartbeat or disconnect. Null if never. */
  lastSeen: Date | null;
}
