import { Argument, type Command } from "commander";
import { createLogger } from "../runtime/logger.js";
import { serve } from "../app/serve.js";
import { SERVICE_NAMES, type ServiceName } from "../events/service-names.js";
import { addSettingOptions, configFromOptions } from "./settings-options.js";
import { stopOnSignals } from "./signals.js";

export function registerServeCommand(program: Command): void {
  const command = program
    .command("serve")
    .description("run one service in this process against production back ends (Kafka, Cassandra, Redis, S3), as a container does")
    .addArgument(new Argument("<service>", "the service to run").choices(SERVICE_NAMES))
    .addHelpText(
      "after",
      "\nBack ends and secrets come from the environment: PARLEY_JWT_SECRET, PARLEY_KAFKA_BROKERS, PARLEY_CASSANDRA_CONTACT_POINTS,\nPARLEY_REDIS_URL or PARLEY_REDIS_CLUSTER_NODES, PARLEY_S3_ENDPOINT ... (docs/configuration.md).",
    )
    .action(async (service: ServiceName, options: Record<string, unknown>) => {
      const config = configFromOptions(options);
      const logger = createLogger(config.logLevel, { component: service });
      const running = await serve(service, config, logger);
      logger.info({ url: running.url, service }, "parley service is listening");
      stopOnSignals(logger, () => running.stop(), config.shutdownGraceMs);
    });
  addSettingOptions(command, ["host", "port", "logLevel"]);
}
