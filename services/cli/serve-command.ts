import { Argument, type Command } from "commander";

export const SERVICES = ["gateway", "chat", "groups", "presence", "assets"] as const;

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run one service per process against production back ends (Kafka, Cassandra, Redis, S3)")
    .addArgument(new Argument("<service>", "the service to run").choices(SERVICES))
    .action((service: string) => {
      // Separate processes need back ends they can share; the embedded ones live inside
      // one process. Refuse clearly rather than start a service that cannot reach its peers.
      process.stderr.write(
        `parley: 'serve ${service}' needs the production adapters (Kafka, Cassandra, Redis, S3), which this build does not include yet.\n` +
          "Run 'parley dev' to run every service in one process on embedded back ends.\n",
      );
      process.exitCode = 2;
    });
}
