import type { CommandSpec } from "./command-spec.js";

export const devCommand: CommandSpec = {
  name: "dev",
  synopsis: "parley dev",
  reads: { groups: ["server", "groups", "notifications", "assets"] },
  flags: ["host", "port", "dataDir", "logLevel"],
  define(command) {
    command
      .description("run the whole platform in one process on embedded back ends (data kept in --data-dir)")
      .action(async (options: Record<string, unknown>) => {
        const { runDev } = await import("./dev-run.js");
        await runDev(options);
      });
  },
};
