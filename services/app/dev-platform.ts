import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { DevTokenApi } from "../auth/dev-token-api.js";
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
import { StaticFilesApi } from "../runtime/static-files.js";

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

export interface DevPlatformOptions {
  /** The built web messenger served at `/`; default dist/web of this checkout (`make build`). */
  webRoot?: string;
}

/**
 * Every service in one process on the embedded back ends: what `parley dev` runs. Beside
 * them, two things only a development server has: the web messenger at `/`, and
 * `POST /v1/dev/token`, which signs anyone in by name.
 */
export async function startDevPlatform(config: Config, logger: Logger, options: DevPlatformOptions = {}): Promise<RunningPlatform> {
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
    httpApis: [
      ...services.httpApis,
      new DevTokenApi(tokens, config.maxTokenLifetimeSeconds),
      new StaticFilesApi(options.webRoot ?? defaultWebRoot(), "The web messenger is not built: run `make build` (or `npm run build:web`), then reload."),
    ],
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

/** dist/web of the checkout or installation this file belongs to: the folder holding package.json. */
function defaultWebRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, "dist", "web");
}
