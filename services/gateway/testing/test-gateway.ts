import { MemoryDeliveryChannel } from "../../adapters/embedded/memory-delivery-channel.js";
import { MemoryEventBus } from "../../adapters/embedded/memory-event-bus.js";
import type { TokenAuthority } from "../../auth/tokens.js";
import type { ConnectionRegistry } from "../../ports/connection-registry.js";
import { close, createHttpServer, listen, WEBSOCKET_PATH } from "../../runtime/http-server.js";
import { createLogger } from "../../runtime/logger.js";
import { Metrics } from "../../runtime/metrics.js";
import { Gateway, type GatewayOptions } from "../gateway.js";

export interface TestGateway {
  gateway: Gateway;
  /** ws://127.0.0.1:<port>/ws */
  url: string;
  /** Where the gateway publishes its activity events. */
  bus: MemoryEventBus;
  /** Shuts the gateway down and closes its server. */
  stop: () => Promise<void>;
}

/**
 * One gateway on a free loopback port, on in-memory back ends and with no services behind
 * it (a frame handed on is refused): for tests of what the gateway itself decides at
 * upgrade and on close. Gateways given the same `registry` act as one cluster.
 */
export async function startTestGateway(
  registry: ConnectionRegistry,
  tokens: TokenAuthority,
  options: Partial<GatewayOptions> = {},
): Promise<TestGateway> {
  const metrics = new Metrics();
  const logger = createLogger("silent");
  const bus = new MemoryEventBus(() => undefined);
  const gateway = new Gateway(
    {
      gatewayId: "gw-a",
      clusterName: "test",
      maxFrameBytes: 64 * 1024,
      framesPerSecond: 100,
      frameBurst: 100,
      sendBufferBytes: 1024 * 1024,
      maxConnections: 1000,
      maxConnectionsPerUser: 10,
      maxDevicesPerUser: 10,
      maxTokenLifetimeSeconds: 3600,
      heartbeatIntervalMs: 30_000,
      shutdownGraceMs: 0,
      maxGroupMembers: 100,
      ...options,
    },
    {
      registry,
      deliveries: new MemoryDeliveryChannel(),
      bus,
      tokens,
      handler: { handle: () => Promise.reject(new Error("no services in this test")) },
      metrics,
      logger,
    },
  );
  await gateway.start();
  const server = createHttpServer({ metrics, logger, ready: () => gateway.ready, upgrades: gateway });
  const { url } = await listen(server, "127.0.0.1", 0);
  return {
    gateway,
    url: `${url.replace(/^http/, "ws")}${WEBSOCKET_PATH}`,
    bus,
    stop: async () => {
      await gateway.shutdown();
      await close(server);
    },
  };
}
