import { InvalidArgumentError, type Command } from "commander";
import { resolve } from "node:path";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
import { UserId } from "../protocol/ids.js";
import { parseDuration } from "./durations.js";
import { addSettingOptions, configFromOptions } from "./settings-options.js";

export function registerTokenCommand(program: Command): void {
  const command = program
    .command("token")
    .description("print a token for <user>, signed with PARLEY_JWT_SECRET or the data directory's dev secret")
    .argument("<user>", "user id: 1-64 characters of A-Z a-z 0-9 _ . @ -", (value) => {
      const parsed = UserId.safeParse(value);
      if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? "invalid user id");
      return parsed.data;
    })
    .option("--ttl <duration>", "how long the token is valid: 30s, 15m, 12h, 7d", parseDuration, 24 * 3600)
    .action(async (user: string, options: Record<string, unknown> & { ttl: number }) => {
      const config = configFromOptions(options);
      const tokens = new TokenAuthority(config.jwtSecret ?? loadOrCreateDevSecret(resolve(config.dataDir)));
      process.stdout.write((await tokens.issue(user, options.ttl)) + "\n");
    });
  addSettingOptions(command, ["dataDir"]);
}
