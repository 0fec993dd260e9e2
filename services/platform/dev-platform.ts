import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import { SqliteMessageStore } from "../adapters/embedded/sqlite-message-store.js";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
import { ChatFrameHandler } from "../chat/chat-frame-handler.js";
import { ChatService } from "../chat/chat-service.js";
import { DeliveryRouter } from "../delivery/delivery-router.js";
import { Gateway } from "../gateway/gateway.js";
import type { Config } from "./config.js";
import { createHttpServer, WEBSOCKET_PATH } from "./http-server.js";
import type { Logger } from "./logger.js";
import { Metrics } from "./metrics.js";

export interface RunningPlatform {
  /** http://host:port */
  url: string;
  /** ws://host:port/ws */
  websocketUrl: string;
  port: number;
  tokens: TokenAuthority;
  gateway: Gateway;
  metrics: Metrics;
  /** Drains the gateway, then closes the server and the back ends. Safe to call twice. */
  stop(): Promise<void>;
}

/** Every service in one process on the embedded back ends: what `parley dev` runs. */
export async function startDevPlatform(config: Config, logger: Logger): Promise<RunningPlatform> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const tokens = new TokenAuthority(config.jwtSecret ?? loadOrCreateDevSecret(dataDir));
  const metrics = new Metrics();

  const store = new SqliteMessageStore(join(dataDir, "messages.db"));
  const bus = new MemoryEventBus((error, event) => {
    logger.error({ err: error, topic: event.topic }, "event handler failed");
  });
  const registry = new MemoryConnectionRegistry();

  const chat = new ChatService(store, new DeliveryRouter(registry, bus, config.clusterName), metrics, logger);
  const gateway = new Gateway(
    { ...config, gatewayId: config.gatewayId ?? `gateway-${randomBytes(4).toString("hex")}` },
    { registry, bus, tokens, handler: new ChatFrameHandler(chat), metrics, logger },
  );
  await gateway.start();

  const server = createHttpServer(gateway, metrics, logger);
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await gateway.shutdown();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => { done(); }));
      await bus.close();
      await registry.close();
      await store.close();
    })());

  return { url: `http://${host}:${port}`, websocketUrl: `ws://${host}:${port}${WEBSOCKET_PATH}`, port, tokens, gateway, metrics, stop };
}
