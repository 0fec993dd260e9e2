import { resolve } from "node:path";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
import { configFromOptions } from "./settings-options.js";

export interface TokenOptions extends Record<string, unknown> {
  ttl: number;
}

/** `parley token <user>`: prints a signed token. */
export async function runToken(user: string, options: TokenOptions): Promise<void> {
  const config = configFromOptions(options);
  const tokens = new TokenAuthority(config.jwtSecret ?? loadOrCreateDevSecret(resolve(config.dataDir)));
  process.stdout.write((await tokens.issue(user, options.ttl)) + "\n");
}
