import { createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import type { DeviceRoute } from "../../ports/connection-registry.js";
import { describeConnectionRegistryContract } from "../../ports/contract/connection-registry.contract.js";
import { testTime } from "../../testing/test-time.js";
import { RedisConnectionRegistry } from "./redis-connection-registry.js";
import { deleteKeysWithPrefix, keysWithPrefix, redisTargets, uniqueKeyPrefix } from "./testing/redis-test-support.js";

/** Real time: expiry is measured on the Redis server's clock, which no test can move. */
const time = testTime(undefined);

function route(userId: string, gatewayId: string, n = 1): DeviceRoute {
  return { userId, deviceId: `device-${n}`, connectionId: `conn-${userId}-${n}`, gatewayId };
}

for (const target of redisTargets()) {
  // The registry shares the file's client (the caller keeps it); each test has its own key prefix.
  describeConnectionRegistryContract(`RedisConnectionRegistry on ${target.name} Redis`, () => {
    const client = target.client();
    const keyPrefix = uniqueKeyPrefix();
    const registry = new RedisConnectionRegistry(client, { keyPrefix });
    return Promise.resolve({
      registry,
      advance: undefined,
      cleanup: async () => {
        await registry.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      },
    });
  });

  describe(`RedisConnectionRegistry on ${target.name} Redis`, () => {
    it("leaves nothing in Redis once the routes of a gateway that died have lapsed", async () => {
      const keyPrefix = uniqueKeyPrefix();
      // Built from options: the registry owns this client and closes it.
      const registry = new RedisConnectionRegistry(target.options(), { keyPrefix });
      const inspector = target.client();
      try {
        const routes = [route("alice", "gw-dead"), route("bob", "gw-dead"), route("carol", "gw-dead")];
        for (const r of routes) await registry.register(r, time.ttlMs);
        await registry.refresh(routes.slice(0, 1), time.ttlMs);
        expect(await keysWithPrefix(inspector, keyPrefix)).not.toEqual([]);
        // The gateway never unregisters: Redis itself must drop every key.
        await time.until(async () => (await keysWithPrefix(inspector, keyPrefix)).length === 0, time.ttlMs * 2);
        expect(await registry.routesFor("alice")).toEqual([]);
        expect(await registry.connectionsPerGateway()).toEqual(new Map());
      } finally {
        await registry.close();
        await deleteKeysWithPrefix(inspector, keyPrefix);
      }
    });

    it("keeps registries with different key prefixes apart", async () => {
      const client = target.client();
      const [prefixA, prefixB] = [uniqueKeyPrefix(), uniqueKeyPrefix()];
      const a = new RedisConnectionRegistry(client, { keyPrefix: prefixA });
      const b = new RedisConnectionRegistry(client, { keyPrefix: prefixB });
      try {
        await a.register(route("alice", "gw-a"), 60_000);
        expect(await a.routesFor("alice")).toEqual([route("alice", "gw-a")]);
        expect(await b.routesFor("alice")).toEqual([]);
        expect(await b.connectionsPerGateway()).toEqual(new Map());
      } finally {
        await Promise.all([a.close(), b.close()]);
        await Promise.all([deleteKeysWithPrefix(client, prefixA), deleteKeysWithPrefix(client, prefixB)]);
      }
    });

    it("refreshes a whole gateway's routes in one heartbeat round", async () => {
      const client = target.client();
      const keyPrefix = uniqueKeyPrefix();
      const registry = new RedisConnectionRegistry(client, { keyPrefix });
      const ttlMs = 3_000;
      // More users and routes than the adapter sends in one chunk or one script.
      const routes = Array.from({ length: 1_500 }, (_, i) => route(`user-${i % 1_200}`, "gw-big", i));
      try {
        await Promise.all(routes.map((r) => registry.register(r, ttlMs)));
        const registeredBy = Date.now();
        expect(await registry.connectionsPerGateway()).toEqual(new Map([["gw-big", 1_500]]));
        await time.pass(ttlMs / 2);
        await registry.refresh(routes, ttlMs);
        // Past the TTL of the last route registered: only the refresh can have kept them.
        await time.pass(registeredBy + ttlMs + 200 - Date.now());
        expect(await registry.connectionsPerGateway()).toEqual(new Map([["gw-big", 1_500]]));
        expect(await registry.routesFor("user-7")).toHaveLength(2);
        expect(await registry.routesFor("user-1199")).toEqual([route("user-1199", "gw-big", 1199)]);
      } finally {
        await registry.close();
        await deleteKeysWithPrefix(client, keyPrefix);
      }
    });
  });
}

describe("RedisConnectionRegistry on a Redis that stops answering", () => {
  it("fails a lookup after the command timeout instead of waiting forever", async () => {
    // Accepts connections and never answers, as a stalled or partitioned server looks.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const registry = new RedisConnectionRegistry({ url: `redis://127.0.0.1:${address.port}`, commandTimeoutMs: 300 }, { keyPrefix: uniqueKeyPrefix() });
    try {
      await expect(registry.routesFor("alice")).rejects.toThrow(/timed out/i);
    } finally {
      await registry.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => { resolve(); }));
    }
  });
});
