import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Endpoints of the real back ends started by `hack/infra.sh up` (run by `make test`).
 * A test that needs one and does not find it fails, naming the command to run: a
 * missing server is never a silent skip.
 */
export function infraEndpoint(name: string): string {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  const dir = process.env.PARLEY_INFRA_DIR ?? join(process.env.PARLEY_CACHE ?? join(homedir(), ".cache", "parley"), "run");
  const file = join(dir, "endpoints.env");
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // reported below
  }
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.split("=");
    if (key === name && rest.length > 0) return rest.join("=").trim();
  }
  throw new Error(`${name} is not set and not in ${file}: start the real back ends with 'make infra-up' (or 'hack/infra.sh up')`);
}
