import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Where hack/ keeps the running servers' state: $PARLEY_INFRA_DIR, default ~/.cache/parley/run. */
export function infraDir(): string {
  return process.env.PARLEY_INFRA_DIR ?? join(process.env.PARLEY_CACHE ?? join(homedir(), ".cache", "parley"), "run");
}

/**
 * An endpoint of the back ends `hack/infra.sh up` started: from the environment, else
 * from $PARLEY_INFRA_DIR/endpoints.env (default ~/.cache/parley/run/endpoints.env).
 * Shared by the tests (services/testing/infra.ts, which the build leaves out) and the
 * benchmarks. When it is missing, throws naming `howToStart`, the command to run.
 */
export function readInfraEndpoint(name: string, howToStart: string): string {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  const file = join(infraDir(), "endpoints.env");
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
  throw new Error(`${name} is not set and not in ${file}: start the ${howToStart}`);
}

/**
 * Endpoints of the real back ends started by `hack/infra.sh up` (run by `make test`).
 * A test that needs one and does not find it fails, naming the command to run: a
 * missing server is never a silent skip.
 */
export function infraEndpoint(name: string): string {
  return readInfraEndpoint(name, "real back ends with 'make infra-up' (or 'hack/infra.sh up')");
}
