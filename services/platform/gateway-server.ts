import type { AddressInfo } from "node:net";
import type { TokenAuthority } from "../auth/tokens.js";
import { Gateway } from "../gateway/gateway.js";
import type { FrameHandler } from "../gateway/session.js";
import type { Backends } from "./backends.js";
import type { Config } from "./config.js";
import { createHttpServer, WEBSOCKET_PATH, type HttpApi } from "./http-server.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

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
  const server = createHttpServer(gateway, metrics, logger, context.httpApis);
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}`,
    websocketUrl: `ws://${host}:${port}${WEBSOCKET_PATH}`,
    port,
    gateway,
    async stop() {
      await gateway.shutdown();
      server.closeAllConnections();
      await new Promise<void>((done) => {
        server.close(() => {
          done();
        });
      });
    },
  };
}
