import { hostname } from "node:os";
import { TokenAuthority } from "../auth/tokens.js";
import { FrameRequestConsumer } from "../handoff/frame-request-consumer.js";
import { RemoteFrameHandler } from "../handoff/remote-frame-handler.js";
import type { ServiceName } from "../events/service-names.js";
import { ConfigError, type Config } from "../runtime/config.js";
import { FrameRouter } from "../handoff/frame-router.js";
import { startGatewayServer } from "./gateway-server.js";
import { close, createHttpServer, listen } from "../runtime/http-server.js";
import type { Logger } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import { openProductionBackends } from "./production-backends.js";
import { startServiceSet } from "./service-set.js";

export interface ServingProcess {
  url: string;
  stop(): Promise<void>;
}

/**
 * One service in its own process on the production back ends, as a container runs it.
 * A gateway hands frames to the services over the bus; a service answers on the
 * gateway's reply channel. Every process serves /healthz, /readyz and /metrics.
 */
export async function serve(service: ServiceName, config: Config, logger: Logger): Promise<ServingProcess> {
  if (config.jwtSecret === undefined) {
    throw new ConfigError(["PARLEY_JWT_SECRET: parley serve needs the secret that signs client tokens (no dev secret outside parley dev)"]);
  }
  const jwtSecret = config.jwtSecret;
  const tokens = new TokenAuthority(jwtSecret);
  const metrics = new Metrics();
  const backends = await openProductionBackends(config, logger, metrics);

  if (service === "gateway") {
    const gatewayId = config.gatewayId ?? hostname();
    const remote = new RemoteFrameHandler(
      { clusterName: config.clusterName, gatewayId, timeoutMs: config.requestTimeoutMs },
      { bus: backends.bus, replies: backends.deliveries, logger },
    );
    await remote.start();
    const server = await startGatewayServer(config, gatewayId, { backends, tokens, handler: remote, httpApis: [], metrics, logger });
    return {
      url: server.url,
      async stop() {
        await server.stop();
        await remote.stop();
        await backends.close();
      },
    };
  }

  const services = await startServiceSet([service], { config, backends, tokens, jwtSecret, metrics, logger });
  const consumer =
    service === "assets"
      ? undefined
      : new FrameRequestConsumer({ clusterName: config.clusterName, service, concurrency: config.requestConcurrency }, { bus: backends.bus, replies: backends.deliveries, handler: new FrameRouter(services.routes), logger });
  await consumer?.start();
  let ready = true;
  const server = createHttpServer({ metrics, logger, ready: () => ready, apis: services.httpApis });
  const { url } = await listen(server, config.host, config.port);
  return {
    url,
    async stop() {
      ready = false;
      await close(server);
      await consumer?.stop();
      await services.stop();
      await backends.close();
    },
  };
}
