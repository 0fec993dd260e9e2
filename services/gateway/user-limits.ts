export interface UserLimits {
  maxConnectionsPerUser: number;
  maxDevicesPerUser: number;
}

/** Which limit refused an upgrade; sent as `limit` in the 429 body, part of the protocol. */
export type UserLimitName = "connections_per_user" | "devices_per_user";

export interface UserLimitRefusal {
  limit: UserLimitName;
  max: number;
  message: string;
}

interface Held {
  connectionId: string;
  deviceId: string;
}

/**
 * Decides whether one more connection of a user, from `deviceId`, fits beside the ones it
 * already holds. A device that is already connected may open further connections up to
 * the connection cap; only a new device id counts against the device cap.
 */
export function checkUserLimits(held: readonly Held[], deviceId: string, limits: UserLimits): UserLimitRefusal | null {
  if (held.length >= limits.maxConnectionsPerUser) {
    return {
      limit: "connections_per_user",
      max: limits.maxConnectionsPerUser,
      message: `too many connections for this user: at most ${limits.maxConnectionsPerUser}; close one first`,
    };
  }
  const devices = new Set(held.map((h) => h.deviceId));
  if (!devices.has(deviceId) && devices.size >= limits.maxDevicesPerUser) {
    return {
      limit: "devices_per_user",
      max: limits.maxDevicesPerUser,
      message: `too many devices connected for this user: at most ${limits.maxDevicesPerUser}; disconnect one first`,
    };
  }
  return null;
}

/**
 * This gateway's connections per user, counted from the moment an upgrade passes its
 * token check (before the registry is asked), so that two upgrades of one user racing on
 * this gateway see each other. Exact for this process; other gateways are seen through
 * the connection registry. A user's connections are a small array (the per-user cap
 * bounds it), not a Map, whose hash table would cost about 270 bytes per connected user.
 */
export class LocalUserConnections {
  private readonly byUser = new Map<string, Held[]>();

  /** Counts the connection from now on; `release` (idempotent) stops counting it. */
  hold(userId: string, connectionId: string, deviceId: string): void {
    const connections = this.byUser.get(userId);
    if (!connections) {
      this.byUser.set(userId, [{ connectionId, deviceId }]);
      return;
    }
    const at = connections.findIndex((held) => held.connectionId === connectionId);
    if (at === -1) connections.push({ connectionId, deviceId });
    else connections[at] = { connectionId, deviceId };
  }

  release(userId: string, connectionId: string): void {
    const connections = this.byUser.get(userId);
    if (!connections) return;
    const at = connections.findIndex((held) => held.connectionId === connectionId);
    if (at !== -1) connections.splice(at, 1);
    if (connections.length === 0) this.byUser.delete(userId);
  }

  /** The user's connections here, except `exceptConnectionId`. */
  heldBy(userId: string, exceptConnectionId: string): Held[] {
    return (this.byUser.get(userId) ?? []).filter((held) => held.connectionId !== exceptConnectionId);
  }
}
