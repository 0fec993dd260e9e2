import { envNames, type Config, type SettingName } from "../../runtime/config.js";

/**
 * A test's settings as the environment of a `parley serve` process: each under the
 * variable the settings table reads it from (its preferred one), lists comma-separated,
 * unset values and the settings named in `except` left out. What `loadConfig` parses back
 * into the same settings.
 */
export function configToEnv(settings: Partial<Config>, except: readonly SettingName[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(settings) as [SettingName, unknown][]) {
    if (value === undefined || except.includes(name)) continue;
    const [variable] = envNames(name);
    if (variable === undefined) throw new Error(`setting ${name} has no environment variable`);
    env[variable] = envValue(name, value);
  }
  return env;
}

function envValue(name: SettingName, value: unknown): string {
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  throw new Error(`setting ${name}: no environment form for ${JSON.stringify(value)}`);
}
