import type { ConnectionRegistry, DeviceRoute } from "../../ports/connection-registry.js";
import type { UserId } from "../../protocol/ids.js";

interface Entry {
  route: DeviceRoute;
  expiresAt: number;
}

/**
 * The in-process connection registry: routes with expiry times, per user. A user's routes
 * are a small array, not a Map: a user holds a few connections at most (the per-user cap),
 * and an empty Map with its hash table costs about 270 bytes, for every connected user.
 */
export class MemoryConnectionRegistry implements ConnectionRegistry {
  private readonly byUser = new Map<UserId, Entry[]>();

  constructor(private readonly now: () => number = Date.now) {}

  register(route: DeviceRoute, ttlMs: number): Promise<void> {
    const entry: Entry = { route: { ...route }, expiresAt: this.now() + ttlMs };
    const routes = this.byUser.get(route.userId);
    if (!routes) {
      this.byUser.set(route.userId, [entry]);
      return Promise.resolve();
    }
    const at = routes.findIndex((existing) => existing.route.connectionId === route.connectionId);
    if (at === -1) routes.push(entry);
    else routes[at] = entry;
    return Promise.resolve();
  }

  refresh(routes: readonly DeviceRoute[], ttlMs: number): Promise<void> {
    const now = this.now();
    const expiresAt = now + ttlMs;
    for (const route of routes) {
      const entry = this.byUser.get(route.userId)?.find((existing) => existing.route.connectionId === route.connectionId);
      if (entry && entry.expiresAt > now) entry.expiresAt = expiresAt;
    }
    return Promise.resolve();
  }

  unregister(route: DeviceRoute): Promise<void> {
    const routes = this.byUser.get(route.userId);
    if (!routes) return Promise.resolve();
    const at = routes.findIndex((existing) => existing.route.connectionId === route.connectionId);
    if (at !== -1) routes.splice(at, 1);
    if (routes.length === 0) this.byUser.delete(route.userId);
    return Promise.resolve();
  }

  routesFor(userId: UserId): Promise<DeviceRoute[]> {
    return Promise.resolve(this.liveRoutes(userId, this.now()));
  }

  /** One clock reading and no await per user: a fan-out asks for thousands at once. */
  routesForUsers(userIds: readonly UserId[]): Promise<Map<UserId, DeviceRoute[]>> {
    const now = this.now();
    const routes = new Map<UserId, DeviceRoute[]>();
    for (const userId of userIds) routes.set(userId, this.liveRoutes(userId, now));
    return Promise.resolve(routes);
  }

  /** Copies of a user's unexpired routes; the expired ones are dropped on the way. */
  private liveRoutes(userId: UserId, now: number): DeviceRoute[] {
    const routes = this.byUser.get(userId);
    if (!routes) return [];
    const live = routes.filter((entry) => entry.expiresAt > now);
    if (live.length === 0) this.byUser.delete(userId);
    else if (live.length < routes.length) this.byUser.set(userId, live);
    return live.map((entry) => ({ ...entry.route }));
  }

  connectionsPerGateway(): Promise<Map<string, number>> {
    const now = this.now();
    const counts = new Map<string, number>();
    for (const routes of this.byUser.values()) {
      for (const entry of routes) {
        if (entry.expiresAt > now) counts.set(entry.route.gatewayId, (counts.get(entry.route.gatewayId) ?? 0) + 1);
      }
    }
    return Promise.resolve(counts);
  }

  close(): Promise<void> {
    this.byUser.clear();
    return Promise.resolve();
  }
}
