import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeviceRoute } from "../connection-registry.js";
import type { PresenceWatchStore } from "../presence-watch-store.js";
import { testTime, type Advance, type TestTime } from "../../testing/test-time.js";

export interface PresenceWatchStoreFixture {
  /** An empty store. */
  store: PresenceWatchStore;
  /** Moves the store's clock forward; undefined on real time (short real leases are used). */
  advance: Advance | undefined;
  /** Closes the store and removes its data. */
  cleanup: () => Promise<void>;
}

function route(userId: string, connectionId: string, gatewayId = "gw-1"): DeviceRoute {
  return { userId, deviceId: `device-${connectionId}`, connectionId, gatewayId };
}

const byConnection = (routes: DeviceRoute[]): DeviceRoute[] => [...routes].sort((a, b) => a.connectionId.localeCompare(b.connectionId));

/** The semantics every PresenceWatchStore adapter must have. */
export function describePresenceWatchStoreContract(name: string, create: () => Promise<PresenceWatchStoreFixture>): void {
  describe(`PresenceWatchStore contract: ${name}`, () => {
    let fixture: PresenceWatchStoreFixture;
    let store: PresenceWatchStore;
    let time: TestTime;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
      time = testTime(fixture.advance);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it("names the connections watching a user, with their routes, and no one for an unwatched user", async () => {
      expect(await store.watch(route("bob", "b1"), ["alice", "carol"], time.ttlMs, 10)).toBe(true);
      expect(await store.watch(route("dave", "d1", "gw-2"), ["alice"], time.ttlMs, 10)).toBe(true);
      expect(byConnection(await store.watchersOf("alice"))).toEqual([route("bob", "b1"), route("dave", "d1", "gw-2")]);
      expect(await store.watchersOf("carol")).toEqual([route("bob", "b1")]);
      expect(await store.watchersOf("erin")).toEqual([]);
    });

    it("refuses a watch that would pass the limit, adding none of it, and does not count a user twice", async () => {
      expect(await store.watch(route("bob", "b1"), ["u1", "u2"], time.ttlMs, 3)).toBe(true);
      expect(await store.watch(route("bob", "b1"), ["u2", "u3"], time.ttlMs, 3)).toBe(true);
      expect(await store.watch(route("bob", "b1"), ["u4", "u5"], time.ttlMs, 3)).toBe(false);
      expect(await store.watchersOf("u4")).toEqual([]);
      expect(await store.watchersOf("u1")).toEqual([route("bob", "b1")]);
      await store.unwatch("b1", ["u1"]);
      expect(await store.watch(route("bob", "b1"), ["u4"], time.ttlMs, 3)).toBe(true);
    });

    it("stops naming a connection for the users it unwatched, and for all of them when dropped", async () => {
      await store.watch(route("bob", "b1"), ["alice", "carol", "dave"], time.ttlMs, 10);
      await store.unwatch("b1", ["alice", "nobody"]);
      expect(await store.watchersOf("alice")).toEqual([]);
      expect(await store.watchersOf("carol")).toEqual([route("bob", "b1")]);
      await store.drop("b1");
      expect(await store.watchersOf("carol")).toEqual([]);
      expect(await store.watchersOf("dave")).toEqual([]);
      await store.drop("b1");
      await store.unwatch("never", ["alice"]);
    });

    it("ends a connection's watches when its lease lapses, as when its gateway dies", async () => {
      await store.watch(route("bob", "b1"), ["alice"], time.ttlMs, 10);
      await time.until(async () => (await store.watchersOf("alice")).length === 0, time.ttlMs);
      // A lapsed connection starts afresh: the limit counts none of its old watches.
      expect(await store.watch(route("bob", "b1"), ["carol"], time.ttlMs, 1)).toBe(true);
    });

    it("keeps a connection's watches while it renews its lease", async () => {
      await store.watch(route("bob", "b1"), ["alice"], time.ttlMs, 10);
      await store.watch(route("carol", "c1"), ["alice"], time.ttlMs, 10);
      await time.pass(time.ttlMs / 2);
      await store.renew("b1", time.ttlMs);
      await time.until(async () => (await store.watchersOf("alice")).every((watcher) => watcher.connectionId !== "c1"), time.ttlMs);
      expect(await store.watchersOf("alice")).toEqual([route("bob", "b1")]);
      // Renewing a connection that watches no one creates nothing.
      await store.renew("nobody", time.ttlMs);
      expect(await store.watchersOf("alice")).toEqual([route("bob", "b1")]);
    });
  });
}
