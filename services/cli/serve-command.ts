import { Argument } from "commander";
import { SERVICE_NAMES, type ServiceName } from "../events/service-names.js";
import type { CommandSpec } from "./command-spec.js";

export const serveCommand: CommandSpec = {
  name: "serve",
  synopsis: "parley serve <service>",
  // Each service uses part of these; every one is read so that one environment fits all.
  reads: { groups: ["server", "groups", "notifications", "assets", "backends"], except: ["dataDir"] },
  flags: ["host", "port", "logLevel"],
  define(command) {
    command
      .description("run one service in this process against production back ends (Kafka, Cassandra, Redis, S3), as a container does")
      .addArgument(new Argument("<service>", "the service to run").choices(SERVICE_NAMES))
      .action(async (service: ServiceName, options: Record<string, unknown>) => {
        const { runServe } = await import("./serve-run.js");
        await runServe(service, options);
      });
  },
};
