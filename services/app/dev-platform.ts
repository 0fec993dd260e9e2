import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
import type { Gateway } from "../gateway/gateway.js";
import type { Config } from "../runtime/config.js";
import { openEmbeddedBackends } from "./embedded-backends.js";
import { FrameRouter } from "../handoff/frame-router.js";
import { startGatewayServer } from "./gateway-server.js";
import type { Logger } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import { startServiceSet } from "./service-set.js";
import { SERVICE_NAMES } from "../events/service-names.js";

export interface RunningPlatform {
  /** http://host:port */
  url: string;
  /** ws://host:port/ws */
  websocketUrl: string;
  port: number;
  tokens: TokenAuthority;
  gateway: Gateway;
  metrics: Metrics;
  /** Drains the gateway, then stops the services and closes the back ends. Safe to call twice. */
  stop(): Promise<void>;
}

/** Every service in one process on the embedded back ends: what `parley dev` runs. */
export async function startDevPlatform(config: Config, logger: Logger): Promise<RunningPlatform> {
  const dataDir = resolve(config.dataDir);
  const backends = openEmbeddedBackends(dataDir, logger);
  const jwtSecret = config.jwtSecret ?? loadOrCreateDevSecret(dataDir);
  const tokens = new TokenAuthority(jwtSecret);
  const metrics = new Metrics();

  const services = await startServiceSet(SERVICE_NAMES.filter((name) => name !== "gateway"), { config, backends, tokens, jwtSecret, metrics, logger });
  const server = await startGatewayServer(config, config.gatewayId ?? `gateway-${randomBytes(4).toString("hex")}`, {
    backends,
    tokens,
    // In one process the gateway calls the services directly, with no bus hop.
    handler: new FrameRouter(services.routes),
    httpApis: services.httpApis,
    metrics,
    logger,
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await server.stop();
      await services.stop();
      await backends.close();
    })());

  return { url: server.url, websocketUrl: server.websocketUrl, port: server.port, tokens, gateway: server.gateway, metrics, stop };
}
