import type { ExpiredPresence, Presence, PresenceChange, PresenceStore } from "../../ports/presence-store.js";
import type { DeviceId, UserId } from "../../protocol/ids.js";

interface Mark {
  deviceId: DeviceId;
  expiresAt: number;
}

interface UserPresence {
  /**
   * The user's marks (one per device or connection) with their expiry times; lapsed marks
   * stay until ended. A small array rather than a Map, whose hash table would cost about
   * 270 bytes for every user online.
   */
  devices: Mark[];
  lastSeen: number | null;
}

/** The in-process presence store. Online state is ephemeral by nature; a restart forgets it. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly users = new Map<UserId, UserPresence>();

  constructor(private readonly now: () => number = Date.now) {}

  markOnline(userId: UserId, deviceId: DeviceId, ttlMs: number, at: Date): Promise<PresenceChange> {
    const now = this.now();
    const user = this.user(userId);
    const wasOnline = hasLiveMark(user, now);
    // Lapsed marks of an offline user are dead: the new mark alone decides when they go offline.
    if (!wasOnline) user.devices.length = 0;
    const mark = user.devices.find((held) => held.deviceId === deviceId);
    if (mark) mark.expiresAt = now + ttlMs;
    else user.devices.push({ deviceId, expiresAt: now + ttlMs });
    user.lastSeen = Math.max(user.lastSeen ?? 0, at.getTime());
    return Promise.resolve({ changed: !wasOnline, presence: presenceOf(user, now) });
  }

  markOffline(userId: UserId, deviceId: DeviceId, at: Date): Promise<PresenceChange> {
    const now = this.now();
    const user = this.user(userId);
    const held = user.devices.length > 0;
    user.devices = user.devices.filter((mark) => mark.deviceId !== deviceId && mark.expiresAt > now);
    user.lastSeen = Math.max(user.lastSeen ?? 0, at.getTime());
    return Promise.resolve({ changed: held && user.devices.length === 0, presence: presenceOf(user, now) });
  }

  get(userId: UserId): Promise<Presence> {
    const user = this.users.get(userId);
    if (!user) return Promise.resolve({ online: false, lastSeen: null });
    return Promise.resolve(presenceOf(user, this.now()));
  }

  expire(): Promise<ExpiredPresence[]> {
    const now = this.now();
    const expired: ExpiredPresence[] = [];
    for (const [userId, user] of this.users) {
      if (user.devices.length === 0) continue;
      dropLapsed(user, now);
      // A mark is only ever set together with lastSeen, so a user who held one has it.
      if (user.devices.length === 0) expired.push({ userId, lastSeen: new Date(user.lastSeen ?? now) });
    }
    return Promise.resolve(expired);
  }

  close(): Promise<void> {
    this.users.clear();
    return Promise.resolve();
  }

  private user(userId: UserId): UserPresence {
    let user = this.users.get(userId);
    if (!user) {
      user = { devices: [], lastSeen: null };
      this.users.set(userId, user);
    }
    return user;
  }
}

function hasLiveMark(user: UserPresence, now: number): boolean {
  return user.devices.some((mark) => mark.expiresAt > now);
}

function dropLapsed(user: UserPresence, now: number): void {
  if (user.devices.some((mark) => mark.expiresAt <= now)) user.devices = user.devices.filter((mark) => mark.expiresAt > now);
}

function presenceOf(user: UserPresence, now: number): Presence {
  return { online: hasLiveMark(user, now), lastSeen: user.lastSeen === null ? null : new Date(user.lastSeen) };
}
