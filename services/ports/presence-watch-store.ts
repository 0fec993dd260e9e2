import type { DeviceRoute } from "./connection-registry.js";
import type { UserId } from "../protocol/ids.js";

/**
 * Who watches whose presence: the `presence.subscribe` of every connection, shared by
 * every presence replica. The activity topic is split by user across replicas, so the
 * replica that sees a user's state change is rarely the one that took the subscribe of
 * those who watch that user; both meet here.
 *
 * A connection's watches hold a lease: they end at its disconnect (`drop`), or when the
 * lease is not renewed in time (its gateway died and no disconnect will ever come).
 */
export interface PresenceWatchStore {
  /**
   * Adds `targets` to what `route`'s connection watches and renews its lease. Returns
   * false, adding nothing, when the connection would then watch more than `maxTargets`.
   */
  watch(route: DeviceRoute, targets: readonly UserId[], leaseMs: number, maxTargets: number): Promise<boolean>;
  /** Stops watching `targets` from a connection; targets it does not watch are ignored. */
  unwatch(connectionId: string, targets: readonly UserId[]): Promise<void>;
  /** Extends the lease of a connection's watches (its heartbeat); nothing for a connection that watches no one. */
  renew(connectionId: string, leaseMs: number): Promise<void>;
  /** Ends every watch of a connection (its disconnect). */
  drop(connectionId: string): Promise<void>;
  /** The connections whose lease is live and that watch `target`, in no particular order. */
  watchersOf(target: UserId): Promise<DeviceRoute[]>;
  close(): Promise<void>;
}
