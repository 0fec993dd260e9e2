import type { TokenAuthority } from "../auth/tokens.js";
import { Gateway } from "../gateway/gateway.js";
import type { FrameHandler } from "../ports/frame-handler.js";
import type { Backends } from "./backends.js";
import type { Config } from "../runtime/config.js";
import { close, createHttpServer, listen, WEBSOCKET_PATH, type HttpApi } from "../runtime/http-server.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";

export interface ListeningServer {
  /** http://host:port */
  url: string;
  /** ws://host:port/ws */
  websocketUrl: string;
  port: number;
  gateway: Gateway;
  /** Drains the gateway (clients are told to reconnect), then closes the listener. */
  stop(): Promise<void>;
}

/** A gateway behind the process's HTTP server, with the given services' endpoints beside it. */
export async function startGatewayServer(
  config: Config,
  gatewayId: string,
  context: { backends: Backends; tokens: TokenAuthority; handler: FrameHandler; httpApis: readonly HttpApi[]; metrics: Metrics; logger: Logger },
): Promise<ListeningServer> {
  const { backends, metrics, logger } = context;
  const gateway = new Gateway(
    { ...config, gatewayId },
    { registry: backends.registry, deliveries: backends.deliveries, bus: backends.bus, tokens: context.tokens, handler: context.handler, metrics, logger },
  );
  await gateway.start();
  const server = createHttpServer({ metrics, logger, ready: () => gateway.ready, upgrades: gateway, apis: context.httpApis });
  const { port, url } = await listen(server, config.host, config.port);
  return {
    url,
    websocketUrl: `${url.replace(/^http/, "ws")}${WEBSOCKET_PATH}`,
    port,
    gateway,
    async stop() {
      await gateway.shutdown();
      await close(server);
    },
  };
}
