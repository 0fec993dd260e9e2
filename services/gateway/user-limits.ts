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
 * the connection registry.
 */
export class LocalUserConnections {
  private readonly byUser = new Map<string, Map<string, string>>();

  /** Counts the connection from now on; `release` (idempotent) stops counting it. */
  hold(userId: string, connectionId: string, deviceId: string): void {
    let connections = this.byUser.get(userId);
    if (!connections) {
      connections = new Map();
      this.byUser.set(userId, connections);
    }
    connections.set(connectionId, deviceId);
  }

  release(userId: string, connectionId: string): void {
    const connections = this.byUser.get(userId);
    if (!connections) return;
    connections.delete(connectionId);
    if (connections.size === 0) this.byUser.delete(userId);
  }

  /** The user's connections here, except `exceptConnectionId`. */
  heldBy(userId: string, exceptConnectionId: string): Held[] {
    const held: Held[] = [];
    for (const [connectionId, deviceId] of this.byUser.get(userId) ?? []) {
      if (connectionId !== exceptConnectionId) held.push({ connectionId, deviceId });
    }
    return held;
  }
}
