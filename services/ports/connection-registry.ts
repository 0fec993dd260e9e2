import type { DeviceId, UserId } from "../protocol/ids.js";

/**
 * Which gateway holds which device's connection (the "WebSocket manager"; Redis in
 * production). Entries expire unless refreshed, so the routes of a gateway that died
 * without unregistering disappear by themselves.
 */
export interface ConnectionRegistry {
  register(route: DeviceRoute, ttlMs: number): Promise<void>;
  /** Extends the expiry of routes a gateway still holds; one call per heartbeat round. */
  refresh(routes: readonly DeviceRoute[], ttlMs: number): Promise<void>;
  unregister(route: DeviceRoute): Promise<void>;
  /** Live (unexpired) routes of every connected device of a user. */
  routesFor(userId: UserId): Promise<DeviceRoute[]>;
  /**
   * Live routes of many users in one look-up (a group's members): every user asked is a
   * key of the answer, with no routes when not connected. Use it rather than one
   * `routesFor` per user: an adapter behind a network answers in as few round trips as
   * its store allows.
   */
  routesForUsers(userIds: readonly UserId[]): Promise<Map<UserId, DeviceRoute[]>>;
  /** Live connections per gateway id: what gateway autoscaling reads. */
  connectionsPerGateway(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export interface DeviceRoute {
  userId: UserId;
  deviceId: DeviceId;
  /** Unique per WebSocket connection, so a device that reconnects gets a new route. */
  connectionId: string;
  gatewayId: string;
}
