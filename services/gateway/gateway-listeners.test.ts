import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { TokenAuthority } from "../auth/tokens.js";
import { RawConnection } from "../e2e/support/raw-connection.js";
import { startTestGateway, type TestGateway } from "./testing/test-gateway.js";

const tokens = new TokenAuthority("a-test-secret-that-is-long-enough-0123456789");
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startGateway(registry: MemoryConnectionRegistry): Promise<TestGateway> {
  const started = await startTestGateway(registry, tokens);
  cleanups.push(started.stop);
  return started;
}

describe("gateway event listeners", () => {
  it("a listener that throws on connect and disconnect neither escapes nor skips the clean-up of the route", async () => {
    const registry = new MemoryConnectionRegistry();
    const { gateway, url } = await startGateway(registry);
    const failure = new Error("a listener's bug");
    const thrown: unknown[] = [];
    gateway.on("connect", () => {
      thrown.push("connect");
      throw failure;
    });
    const alice = await RawConnection.open({ url, token: await tokens.issue("alice", 600), deviceId: "phone" });
    expect(await registry.routesFor("alice")).toHaveLength(1);
    expect(thrown).toEqual(["connect"]);
    thrown.length = 0;
    gateway.removeAllListeners();
    // Listed first, so it runs before the throwing listeners (which stop the emit).
    const disconnected = once(gateway, "disconnect");
    for (const event of ["connect", "closing", "disconnect"] as const) {
      gateway.on(event, () => {
        thrown.push(event);
        throw failure;
      });
    }
    await alice.close();
    await disconnected;
    expect(thrown).toEqual(["disconnect"]);
    // The clean-up after the emit ran: the route is gone, and the gateway still serves.
    await expect.poll(() => registry.routesFor("alice")).toEqual([]);
    const bob = await RawConnection.open({ url, token: await tokens.issue("bob", 600), deviceId: "phone" });
    cleanups.push(() => bob.close());
    expect(bob.hello.userId).toBe("bob");
  });
});
