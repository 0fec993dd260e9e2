import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConnectionRegistry, DeviceRoute } from "../connection-registry.js";
import { testTime, type Advance, type TestTime } from "../../testing/test-time.js";

export interface ConnectionRegistryFixture {
  /** An empty registry. */
  registry: ConnectionRegistry;
  /** Moves the registry's clock forward; undefined on real time (short real TTLs are used). */
  advance: Advance | undefined;
  /** Closes the registry and removes its data. */
  cleanup: () => Promise<void>;
}

function route(userId: string, deviceId: string, connectionId: string, gatewayId = "gw-1"): DeviceRoute {
  return { userId, deviceId, connectionId, gatewayId };
}

const ALICE_PHONE = route("alice", "phone", "conn-alice-phone", "gw-1");
const ALICE_LAPTOP = route("alice", "laptop", "conn-alice-laptop", "gw-2");
const BOB_PHONE = route("bob", "phone", "conn-bob-phone", "gw-1");

function byConnection(routes: DeviceRoute[]): DeviceRoute[] {
  return [...routes].sort((a, b) => a.connectionId.localeCompare(b.connectionId));
}

/** Gateways with live connections; a gateway may be listed with 0 or left out. */
function counts(perGateway: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...perGateway].filter(([, count]) => count > 0));
}

/** The semantics every ConnectionRegistry adapter must have. */
export function describeConnectionRegistryContract(name: string, create: () => Promise<ConnectionRegistryFixture>): void {
  describe(`ConnectionRegistry contract: ${name}`, () => {
    let fixture: ConnectionRegistryFixture;
    let registry: ConnectionRegistry;
    let time: TestTime;

    beforeEach(async () => {
      fixture = await create();
      registry = fixture.registry;
      time = testTime(fixture.advance);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    const isGone = (r: DeviceRoute) => async (): Promise<boolean> =>
      !(await registry.routesFor(r.userId)).some((live) => live.connectionId === r.connectionId);

    it("knows no routes for a user who never connected", async () => {
      expect(await registry.routesFor("nobody")).toEqual([]);
      expect(counts(await registry.connectionsPerGateway())).toEqual({});
    });

    it("returns a registered route", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      expect(await registry.routesFor("alice")).toEqual([ALICE_PHONE]);
      expect(await registry.routesFor("bob")).toEqual([]);
    });

    it("returns every connected device of a user, on any gateway", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await registry.register(ALICE_LAPTOP, time.ttlMs);
      await registry.register(BOB_PHONE, time.ttlMs);
      expect(byConnection(await registry.routesFor("alice"))).toEqual(byConnection([ALICE_PHONE, ALICE_LAPTOP]));
      expect(await registry.routesFor("bob")).toEqual([BOB_PHONE]);
    });

    it("forgets an unregistered route and only that one", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await registry.register(ALICE_LAPTOP, time.ttlMs);
      await registry.unregister(ALICE_PHONE);
      expect(await registry.routesFor("alice")).toEqual([ALICE_LAPTOP]);
      await registry.unregister(ALICE_LAPTOP);
      expect(await registry.routesFor("alice")).toEqual([]);
      await expect(registry.unregister(ALICE_LAPTOP)).resolves.toBeUndefined();
    });

    it("keeps a reconnected device's new route when its old connection unregisters late", async () => {
      const old = route("alice", "phone", "conn-1", "gw-1");
      const reconnected = route("alice", "phone", "conn-2", "gw-2");
      await registry.register(old, time.ttlMs);
      await registry.register(reconnected, time.ttlMs);
      await registry.unregister(old);
      expect(await registry.routesFor("alice")).toEqual([reconnected]);
    });

    it("lets a route expire when it is not refreshed", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await time.pass(time.ttlMs / 2);
      expect(await registry.routesFor("alice")).toEqual([ALICE_PHONE]);
      await time.until(isGone(ALICE_PHONE), time.ttlMs);
      expect(await registry.routesFor("alice")).toEqual([]);
      expect(counts(await registry.connectionsPerGateway())).toEqual({});
    });

    it("extends the life of refreshed routes only", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await registry.register(BOB_PHONE, time.ttlMs);
      await time.pass(time.ttlMs / 2);
      await registry.refresh([ALICE_PHONE], time.ttlMs);
      await time.until(isGone(BOB_PHONE), time.ttlMs);
      expect(await registry.routesFor("alice")).toEqual([ALICE_PHONE]);
      await time.until(isGone(ALICE_PHONE), time.ttlMs);
    });

    it("does not bring back an expired or unregistered route on refresh", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await registry.register(BOB_PHONE, time.ttlMs);
      await registry.unregister(BOB_PHONE);
      await time.until(isGone(ALICE_PHONE), time.ttlMs);
      await registry.refresh([ALICE_PHONE, BOB_PHONE], time.ttlMs);
      expect(await registry.routesFor("alice")).toEqual([]);
      expect(await registry.routesFor("bob")).toEqual([]);
      expect(counts(await registry.connectionsPerGateway())).toEqual({});
    });

    it("looks up many users at once: every user asked, with their live routes or none", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await registry.register(ALICE_LAPTOP, time.ttlMs);
      await registry.register(BOB_PHONE, time.ttlMs);
      const routes = await registry.routesForUsers(["alice", "bob", "nobody"]);
      expect([...routes.keys()].sort()).toEqual(["alice", "bob", "nobody"]);
      expect(byConnection(routes.get("alice") ?? [])).toEqual(byConnection([ALICE_PHONE, ALICE_LAPTOP]));
      expect(routes.get("bob")).toEqual([BOB_PHONE]);
      expect(routes.get("nobody")).toEqual([]);
      expect(await registry.routesForUsers([])).toEqual(new Map());
    });

    it("leaves expired and unregistered routes out of a bulk look-up", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await registry.register(ALICE_LAPTOP, time.ttlMs);
      await registry.register(BOB_PHONE, time.ttlMs);
      await registry.unregister(ALICE_LAPTOP);
      await time.pass(time.ttlMs / 2);
      await registry.refresh([ALICE_PHONE], time.ttlMs);
      await time.until(isGone(BOB_PHONE), time.ttlMs);
      const routes = await registry.routesForUsers(["alice", "bob"]);
      expect(routes.get("alice")).toEqual([ALICE_PHONE]);
      expect(routes.get("bob")).toEqual([]);
    });

    it("looks up a big group's members in one call", async () => {
      // More users than an adapter reads in one go (the Redis adapter: 500 per script).
      const connected = Array.from({ length: 1_200 }, (_, i) => route(`member-${i}`, "phone", `conn-member-${i}`, `gw-${i % 2}`));
      // A TTL far longer than the registration of 1,200 routes takes on a real server.
      await Promise.all(connected.map((r) => registry.register(r, 60_000)));
      const asked = [...connected.map((r) => r.userId), "offline-1", "offline-2"];
      const routes = await registry.routesForUsers(asked);
      expect(routes.size).toBe(asked.length);
      for (const r of connected) expect(routes.get(r.userId)).toEqual([r]);
      expect(routes.get("offline-2")).toEqual([]);
    });

    it("counts live connections per gateway", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await registry.register(ALICE_LAPTOP, time.ttlMs);
      await registry.register(BOB_PHONE, time.ttlMs);
      await registry.register(route("carol", "tablet", "conn-carol", "gw-3"), time.ttlMs);
      // Registering the same connection again does not count it twice.
      await registry.register(BOB_PHONE, time.ttlMs);
      expect(counts(await registry.connectionsPerGateway())).toEqual({ "gw-1": 2, "gw-2": 1, "gw-3": 1 });
      await registry.unregister(BOB_PHONE);
      expect(counts(await registry.connectionsPerGateway())).toEqual({ "gw-1": 1, "gw-2": 1, "gw-3": 1 });
    });

    it("stops counting expired connections", async () => {
      await registry.register(ALICE_PHONE, time.ttlMs);
      await registry.register(BOB_PHONE, time.ttlMs);
      await time.pass(time.ttlMs / 2);
      await registry.refresh([BOB_PHONE], time.ttlMs);
      expect(counts(await registry.connectionsPerGateway())).toEqual({ "gw-1": 2 });
      // Asks only connectionsPerGateway, which must see the expiry by itself.
      await time.until(async () => counts(await registry.connectionsPerGateway())["gw-1"] === 1, time.ttlMs);
      expect(await registry.routesFor("alice")).toEqual([]);
      expect(await registry.routesFor("bob")).toEqual([BOB_PHONE]);
    });
  });
}
