import { Option, type Command } from "commander";
import { type Config, envNames, loadConfig, type SettingName, SETTINGS } from "../runtime/config.js";
import type { CommandSpec, SettingSelection } from "./command-spec.js";

const CONFIGURATION_DOC = "docs/configuration.md";

/** The settings a selection names, in the order of the settings table. */
export function selectedSettings(selection: SettingSelection): SettingName[] {
  return (Object.keys(SETTINGS) as SettingName[]).filter(
    (name) =>
      !(selection.except ?? []).includes(name) &&
      ((selection.groups ?? []).includes(SETTINGS[name].group) || (selection.settings ?? []).includes(name)),
  );
}

/** How a default reads in help and docs; undefined is "unset". */
export function shownDefault(name: SettingName): string | undefined {
  const value: string | number | undefined = SETTINGS[name].default;
  return value === undefined ? undefined : String(value);
}

/**
 * Gives a chosen command its setting flags and, after its help, the environment variables
 * of every setting it reads, all worded from the settings table.
 */
export function addSettingOptions(command: Command, spec: Pick<CommandSpec, "reads" | "flags">): Command {
  for (const name of spec.flags) {
    const setting = SETTINGS[name];
    if (!("flag" in setting)) throw new Error(`setting ${name} has no flag`);
    command.addOption(new Option(setting.flag, `${setting.description} (env ${envNames(name).join(" or ")}; default ${shownDefault(name) ?? "unset"})`));
  }
  command.addHelpText("after", environmentHelp(selectedSettings(spec.reads)));
  return command;
}

function environmentHelp(names: readonly SettingName[]): string {
  if (names.length === 0) return `\nThis command reads none of the settings in ${CONFIGURATION_DOC}.`;
  const intro = `\nEach setting is read from its flag, else its environment variable, else its default (${CONFIGURATION_DOC}).`;
  const rows = names.map((name) => {
    const fallback = shownDefault(name);
    return [envNames(name).join(", "), `${SETTINGS[name].description}${fallback === undefined ? "" : ` (default ${fallback})`}`] as const;
  });
  const width = Math.max(...rows.map(([env]) => env.length));
  return `${intro}\nEnvironment variables:\n${rows.map(([env, text]) => `  ${env.padEnd(width)}  ${text}`).join("\n")}`;
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
