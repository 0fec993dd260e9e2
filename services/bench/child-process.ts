/** Helpers for the benchmarks' server children (server-process.ts, serve-process.ts). */

/**
 * The environment for a child: ours without PARLEY_* settings, PORT and NODE_OPTIONS, so
 * the figures do not depend on what happens to be set in the caller's shell.
 */
export function childBaseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === "PORT" || name.startsWith("PARLEY_") || name === "NODE_OPTIONS") continue;
    env[name] = value;
  }
  return env;
}

/** A JSON log line of a child (pino), or null when the line is not a JSON object. */
export function parseLogLine(line: string): object | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}
