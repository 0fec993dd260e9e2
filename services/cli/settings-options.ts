import { Option, type Command } from "commander";
import { SETTINGS, loadConfig, type Config, type SettingName } from "../runtime/config.js";

/** Adds a flag for each named setting that has one, documented from the settings table. */
export function addSettingOptions(command: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const setting = SETTINGS[name];
    if (!("flag" in setting)) continue;
    const envs = typeof setting.env === "string" ? [setting.env] : setting.env;
    command.addOption(new Option(setting.flag, `${setting.description} (env ${envs.join(" or ")}; default ${String(setting.default)})`));
  }
  return command;
}

/** The configuration from a command's parsed options, the environment and the defaults. */
export function configFromOptions(options: Record<string, unknown>): Config {
  const flags: Partial<Record<SettingName, string>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const value = options[name];
    if (typeof value === "string") flags[name] = value;
  }
  return loadConfig(flags);
}
