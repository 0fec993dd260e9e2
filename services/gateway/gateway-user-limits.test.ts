import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { TokenAuthority } from "../auth/tokens.js";
import { RawConnection } from "../e2e/support/raw-connection.js";
import type { ConnectionRegistry } from "../ports/connection-registry.js";
import { startTestGateway } from "./testing/test-gateway.js";

const tokens = new TokenAuthority("a-test-secret-that-is-long-enough-0123456789");
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One gateway of a cluster whose gateways share `registry`, as they share Redis. */
async function startGateway(gatewayId: string, registry: ConnectionRegistry, limits = { maxConnectionsPerUser: 2, maxDevicesPerUser: 2 }): Promise<string> {
  const { url, stop } = await startTestGateway(registry, tokens, { gatewayId, ...limits });
  cleanups.push(stop);
  return url;
}

/** A bare connection: it shows a refused upgrade's status and sends no frame of its own (no sync). */
async function connect(url: string, userId: string, deviceId: string): Promise<RawConnection> {
  const client = await RawConnection.open({ url, token: await tokens.issue(userId, 600), deviceId });
  cleanups.push(() => client.close());
  return client;
}

describe("per-user limits across gateways", () => {
  it("count the user's connections on other gateways through the registry", async () => {
    const registry = new MemoryConnectionRegistry();
    const [a, b] = [await startGateway("gw-a", registry), await startGateway("gw-b", registry)];
    await connect(a, "alice", "phone");
    await connect(b, "alice", "phone");
    await expect(connect(a, "alice", "phone")).rejects.toMatchObject({ status: 429 });
    await expect(connect(b, "alice", "phone")).rejects.toMatchObject({ status: 429 });
    expect((await connect(b, "bob", "phone")).hello.userId).toBe("bob");
  });

  it("count the user's devices on other gateways", async () => {
    const registry = new MemoryConnectionRegistry();
    const limits = { maxConnectionsPerUser: 10, maxDevicesPerUser: 2 };
    const [a, b] = [await startGateway("gw-a", registry, limits), await startGateway("gw-b", registry, limits)];
    await connect(a, "alice", "phone");
    await connect(b, "alice", "laptop");
    const refused: unknown = await connect(a, "alice", "tablet").catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 429 });
    expect(JSON.parse((refused as { body: string }).body)).toMatchObject({ limit: "devices_per_user", max: 2 });
    expect((await connect(a, "alice", "laptop")).hello.deviceId).toBe("laptop");
  });

  it("fall back to this gateway's own count when the registry cannot be read", async () => {
    const registry = new MemoryConnectionRegistry();
    registry.routesFor = () => Promise.reject(new Error("registry down"));
    const a = await startGateway("gw-a", registry);
    await connect(a, "alice", "phone");
    await connect(a, "alice", "phone");
    await expect(connect(a, "alice", "phone")).rejects.toMatchObject({ status: 429 });
  });
});

describe("a client that leaves while its connection is being registered", () => {
  it("leaves no route behind", async () => {
    const registry = new MemoryConnectionRegistry();
    let registered!: () => void;
    const registering = new Promise<void>((resolve) => {
      registered = resolve;
    });
    let releaseRegister!: () => void;
    let unregistered!: () => void;
    const closeHandled = new Promise<void>((resolve) => {
      unregistered = resolve;
    });
    const slowRegistry: ConnectionRegistry = Object.assign(Object.create(registry) as ConnectionRegistry, {
      async unregister(...args: Parameters<ConnectionRegistry["unregister"]>) {
        await registry.unregister(...args);
        unregistered();
      },
      async register(...args: Parameters<ConnectionRegistry["register"]>) {
        registered();
        await new Promise<void>((resolve) => {
          releaseRegister = resolve;
        });
        return registry.register(...args);
      },
    });
    const url = await startGateway("gw-slow", slowRegistry);
    const socket = new WebSocket(url, ["parley.v1"], { headers: { Authorization: `Bearer ${await tokens.issue("alice", 600)}` } });
    await Promise.all([registering, once(socket, "open")]);
    socket.terminate();
    // The gateway handles the close (and unregisters what is not there yet) before the
    // registration completes.
    await closeHandled;
    releaseRegister();
    await expect.poll(() => registry.routesFor("alice")).toEqual([]);
  });
});

