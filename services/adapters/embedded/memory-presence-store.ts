import type { Presence, PresenceStore } from "../../ports/presence-store.js";
import type { DeviceId, UserId } from "../../protocol/ids.js";

interface UserPresence {
  /** Device id -> expiry time of its online mark. */
  devices: Map<DeviceId, number>;
  lastSeen: number | null;
}

/** The in-process presence store. Online state is ephemeral by nature; a restart forgets it. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly users = new Map<UserId, UserPresence>();

  constructor(private readonly now: () => number = Date.now) {}

  markOnline(userId: UserId, deviceId: DeviceId, ttlMs: number, at: Date): Promise<void> {
    const user = this.user(userId);
    user.devices.set(deviceId, this.now() + ttlMs);
    user.lastSeen = Math.max(user.lastSeen ?? 0, at.getTime());
    return Promise.resolve();
  }

  markOffline(userId: UserId, deviceId: DeviceId, at: Date): Promise<void> {
    const user = this.user(userId);
    user.devices.delete(deviceId);
    user.lastSeen = Math.max(user.lastSeen ?? 0, at.getTime());
    return Promise.resolve();
  }

  get(userId: UserId): Promise<Presence> {
    const user = this.users.get(userId);
    if (!user) return Promise.resolve({ online: false, lastSeen: null });
    const now = this.now();
    let online = false;
    for (const [deviceId, expiresAt] of user.devices) {
      if (expiresAt > now) online = true;
      else user.devices.delete(deviceId);
    }
    return Promise.resolve({ online, lastSeen: user.lastSeen === null ? null : new Date(user.lastSeen) });
  }

  close(): Promise<void> {
    this.users.clear();
    return Promise.resolve();
  }

  private user(userId: UserId): UserPresence {
    let user = this.users.get(userId);
    if (!user) {
      user = { devices: new Map(), lastSeen: null };
      this.users.set(userId, user);
    }
    return user;
  }
}
