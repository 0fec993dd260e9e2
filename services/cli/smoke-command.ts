import { Option } from "commander";
import type { CommandSpec } from "./command-spec.js";
import { parseDuration } from "./durations.js";
import type { SmokeOptions } from "./smoke-run.js";

export const smokeCommand: CommandSpec = {
  name: "smoke",
  synopsis: "parley smoke",
  reads: { settings: ["jwtSecret"] },
  flags: [],
  define(command) {
    command
      .description(
        "check a running platform end to end, without a terminal: two users connect, exchange a 1:1 and a group message, " +
          "one uploads an asset and downloads it; prints one summary line, exits 0 when all worked and 1 otherwise",
      )
      .option("--url <url>", "the gateways' WebSocket endpoint", "ws://127.0.0.1:8080/ws")
      .option("--assets-url <url>", "the assets API's base URL (default: --url's host over http(s))")
      .option(
        "--token <token>",
        "a user's bearer token; give it twice, for two different users (default: two users minted with PARLEY_JWT_SECRET)",
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      )
      .addOption(new Option("--timeout <duration>", "give up after this long: 30s, 2m").argParser(parseDuration).default(30, "30s"))
      .action(async (options: SmokeOptions) => {
        const { runSmoke } = await import("./smoke-run.js");
        // Exit at once: a step cut off by the timeout (a gateway that accepts and never says
        // hello) still holds its socket, which would keep the process alive past --timeout.
        process.exit(await runSmoke(options));
      });
  },
};
