import { InvalidArgumentError, Option } from "commander";
import type { CommandSpec } from "./command-spec.js";
import type { TokenOptions } from "./token-run.js";
import { parseDuration } from "./durations.js";

export const tokenCommand: CommandSpec = {
  name: "token",
  synopsis: "parley token <user>",
  reads: { settings: ["dataDir", "jwtSecret"] },
  flags: ["dataDir"],
  define(command) {
    command
      .description("print a token for <user>, signed with PARLEY_JWT_SECRET or the data directory's dev secret")
      .argument("<user>", "user id: 1-64 characters of A-Z a-z 0-9 _ . @ -")
      .addOption(new Option("--ttl <duration>", "how long the token is valid: 30s, 15m, 12h, 7d").argParser(parseDuration).default(24 * 3600, "24h"))
      .action(async (user: string, options: TokenOptions) => {
        const { runToken } = await import("./token-run.js");
        await runToken(user, options);
      });
  },
  async prepare(command) {
    // The user id rule lives in the protocol's zod schemas, which `parley --help` need not load.
    const { UserId } = await import("../protocol/ids.js");
    command.registeredArguments[0]?.argParser((value: string) => {
      const parsed = UserId.safeParse(value);
      if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? "invalid user id");
      return parsed.data;
    });
  },
};
