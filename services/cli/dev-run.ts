import { startDevPlatform } from "../app/dev-platform.js";
import { SETTINGS } from "../runtime/config.js";
import { createLogger } from "../runtime/logger.js";
import { configFromOptions } from "./settings-options.js";
import { stopOnSignals } from "./signals.js";

/** `parley dev`: the whole platform in this process, until SIGTERM or SIGINT. */
export async function runDev(options: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(options);
  const logger = createLogger(config.logLevel);
  const platform = await startDevPlatform(config, logger);
  const dataDirFlag = config.dataDir === SETTINGS.dataDir.default ? "" : ` --data-dir ${config.dataDir}`;
  logger.info({ url: platform.url, websocket: platform.websocketUrl, dataDir: config.dataDir }, "parley dev is listening");
  process.stderr.write(
    [
      "",
      `  Parley is running at ${platform.url}`,
      `  WebSocket endpoint:  ${platform.websocketUrl}`,
      `  Data directory:      ${config.dataDir}`,
      "",
      `  Get a token:   npx parley token alice${dataDirFlag}`,
      `  Chat:          npx parley connect alice --url ${platform.websocketUrl}${dataDirFlag}`,
      "",
    ].join("\n") + "\n",
  );
  stopOnSignals(logger, () => platform.stop(), config.shutdownGraceMs);
}
