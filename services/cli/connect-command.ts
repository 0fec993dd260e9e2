import type { CommandSpec } from "./command-spec.js";
import type { ConnectOptions } from "./connect-run.js";

export const connectCommand: CommandSpec = {
  name: "connect",
  synopsis: "parley connect <user>",
  reads: { settings: ["dataDir", "jwtSecret"] },
  flags: ["dataDir"],
  define(command) {
    command
      .description("chat as <user> from the terminal (a small interactive client)")
      .argument("<user>", "who you are")
      .option("--url <url>", "WebSocket endpoint", "ws://127.0.0.1:8080/ws")
      .option("--device <id>", "this device's id", "cli")
      .option("--token <token>", "bearer token (env PARLEY_TOKEN); default: minted with the data directory's dev secret")
      .action(async (user: string, options: ConnectOptions) => {
        const { runConnect } = await import("./connect-run.js");
        await runConnect(user, options);
      });
  },
};
