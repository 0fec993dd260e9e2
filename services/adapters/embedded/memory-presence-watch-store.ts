import type { DeviceRoute } from "../../ports/connection-registry.js";
import type { PresenceWatchStore } from "../../ports/presence-watch-store.js";
import type { UserId } from "../../protocol/ids.js";

interface Watcher {
  route: DeviceRoute;
  targets: Set<UserId>;
  leaseEndsAt: number;
}

/**
 * Watches in this process's memory. Right for the embedded back ends, where one process
 * runs the presence service and every gateway; it cannot be shared by several presence
 * processes (the production back ends use Redis), and a restart forgets every watch
 * (clients subscribe again when they reconnect).
 */
export class MemoryPresenceWatchStore implements PresenceWatchStore {
  private readonly watchers = new Map<string, Watcher>();
  /** Watched user -> the connection ids watching them. */
  private readonly watchersByTarget = new Map<UserId, Set<string>>();

  constructor(private readonly now: () => number = Date.now) {}

  watch(route: DeviceRoute, targets: readonly UserId[], leaseMs: number, maxTargets: number): Promise<boolean> {
    const now = this.now();
    let watcher = this.live(route.connectionId, now);
    const adding = new Set(targets.filter((target) => !watcher?.targets.has(target)));
    if ((watcher?.targets.size ?? 0) + adding.size > maxTargets) return Promise.resolve(false);
    if (!watcher) {
      watcher = { route, targets: new Set(), leaseEndsAt: 0 };
      this.watchers.set(route.connectionId, watcher);
    }
    watcher.leaseEndsAt = now + leaseMs;
    for (const target of adding) {
      watcher.targets.add(target);
      const ids = this.watchersByTarget.get(target) ?? new Set<string>();
      ids.add(route.connectionId);
      this.watchersByTarget.set(target, ids);
    }
    return Promise.resolve(true);
  }

  unwatch(connectionId: string, targets: readonly UserId[]): Promise<void> {
    const watcher = this.watchers.get(connectionId);
    if (!watcher) return Promise.resolve();
    for (const target of targets) {
      watcher.targets.delete(target);
      this.unlink(target, connectionId);
    }
    if (watcher.targets.size === 0) this.watchers.delete(connectionId);
    return Promise.resolve();
  }

  renew(connectionId: string, leaseMs: number): Promise<void> {
    const watcher = this.live(connectionId, this.now());
    if (watcher) watcher.leaseEndsAt = this.now() + leaseMs;
    return Promise.resolve();
  }

  drop(connectionId: string): Promise<void> {
    this.forget(connectionId);
    return Promise.resolve();
  }

  watchersOf(target: UserId): Promise<DeviceRoute[]> {
    const now = this.now();
    const routes: DeviceRoute[] = [];
    for (const connectionId of [...(this.watchersByTarget.get(target) ?? [])]) {
      const watcher = this.live(connectionId, now);
      if (watcher) routes.push(watcher.route);
    }
    return Promise.resolve(routes);
  }

  close(): Promise<void> {
    this.watchers.clear();
    this.watchersByTarget.clear();
    return Promise.resolve();
  }

  /** The connection's watcher while its lease holds; a lapsed one is forgotten on sight. */
  private live(connectionId: string, now: number): Watcher | undefined {
    const watcher = this.watchers.get(connectionId);
    if (watcher && watcher.leaseEndsAt <= now) {
      this.forget(connectionId);
      return undefined;
    }
    return watcher;
  }

  private forget(connectionId: string): void {
    const watcher = this.watchers.get(connectionId);
    if (!watcher) return;
    this.watchers.delete(connectionId);
    for (const target of watcher.targets) this.unlink(target, connectionId);
  }

  private unlink(target: UserId, connectionId: string): void {
    const ids = this.watchersByTarget.get(target);
    ids?.delete(connectionId);
    if (ids?.size === 0) this.watchersByTarget.delete(target);
  }
}
