import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const FILE_NAME = "dev-jwt-secret";

/**
 * The development signing secret: random, generated once per data directory and kept
 * there (mode 0600), so `parley token` and `parley dev` agree without a secret that is
 * the same on every laptop.
 */
export function loadOrCreateDevSecret(dataDir: string): string {
  const path = join(dataDir, FILE_NAME);
  try {
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    if (!(typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT")) throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  try {
    writeFileSync(path, secret + "\n", { mode: 0o600, flag: "wx" });
  } catch (error) {
    // Another process created it first: use theirs.
    if (typeof error === "object" && error !== null && "code" in error && error.code === "EEXIST") {
      return readFileSync(path, "utf8").trim();
    }
    throw error;
  }
  return secret;
}
