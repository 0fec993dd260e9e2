import { serve } from "../app/serve.js";
import type { ServiceName } from "../events/service-names.js";
import { createLogger } from "../runtime/logger.js";
import { configFromOptions } from "./settings-options.js";
import { stopOnSignals } from "./signals.js";

/** `parley serve <service>`: one service on the production back ends, until SIGTERM or SIGINT. */
export async function runServe(service: ServiceName, options: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(options);
  const logger = createLogger(config.logLevel, { component: service });
  const running = await serve(service, config, logger);
  logger.info({ url: running.url, service }, "parley service is listening");
  stopOnSignals(logger, () => running.stop(), config.shutdownGraceMs);
}
