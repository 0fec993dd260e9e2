import type { ConnectionRegistry, DeviceRoute } from "../../ports/connection-registry.js";
import type { UserId } from "../../protocol/ids.js";

interface Entry {
  route: DeviceRoute;
  expiresAt: number;
}

/** The in-process connection registry: a map of routes with expiry times. */
export class MemoryConnectionRegistry implements ConnectionRegistry {
  private readonly byUser = new Map<UserId, Map<string, Entry>>();

  constructor(private readonly now: () => number = Date.now) {}

  register(route: DeviceRoute, ttlMs: number): Promise<void> {
    const routes = this.byUser.get(route.userId) ?? new Map<string, Entry>();
    routes.set(route.connectionId, { route: { ...route }, expiresAt: this.now() + ttlMs });
    this.byUser.set(route.userId, routes);
    return Promise.resolve();
  }

  refresh(routes: readonly DeviceRoute[], ttlMs: number): Promise<void> {
    const expiresAt = this.now() + ttlMs;
    for (const route of routes) {
      const entry = this.byUser.get(route.userId)?.get(route.connectionId);
      if (entry && entry.expiresAt > this.now()) entry.expiresAt = expiresAt;
    }
    return Promise.resolve();
  }

  unregister(route: DeviceRoute): Promise<void> {
    const routes = this.byUser.get(route.userId);
    routes?.delete(route.connectionId);
    if (routes?.size === 0) this.byUser.delete(route.userId);
    return Promise.resolve();
  }

  routesFor(userId: UserId): Promise<DeviceRoute[]> {
    const routes = this.byUser.get(userId);
    if (!routes) return Promise.resolve([]);
    const now = this.now();
    const live: DeviceRoute[] = [];
    for (const [connectionId, entry] of routes) {
      if (entry.expiresAt > now) live.push({ ...entry.route });
      else routes.delete(connectionId);
    }
    if (routes.size === 0) this.byUser.delete(userId);
    return Promise.resolve(live);
  }

  async routesForUsers(userIds: readonly UserId[]): Promise<Map<UserId, DeviceRoute[]>> {
    const routes = new Map<UserId, DeviceRoute[]>();
    for (const userId of userIds) routes.set(userId, await this.routesFor(userId));
    return routes;
  }

  connectionsPerGateway(): Promise<Map<string, number>> {
    const now = this.now();
    const counts = new Map<string, number>();
    for (const routes of this.byUser.values()) {
      for (const entry of routes.values()) {
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
