import type { Command } from "commander";
import type { SettingGroup, SettingName } from "../runtime/config.js";

/**
 * A `parley` subcommand as the top-level program knows it before it runs. Loading this
 * must stay cheap (commander and type imports only): `parley --version` and `parley --help`
 * load every spec, and nothing else. The settings table (zod) is loaded only once a
 * command is chosen; the command's implementation only when its action runs.
 */
export interface CommandSpec {
  readonly name: string;
  /** How docs/configuration.md names the command, e.g. `parley token <user>`. */
  readonly synopsis: string;
  /** The settings the command uses: whole groups, plus single settings, minus exceptions. */
  readonly reads: SettingSelection;
  /** The settings the command also accepts as flags (each must be one it reads). */
  readonly flags: readonly SettingName[];
  /** Adds the description, arguments, options that are not settings, and the action. */
  define(command: Command): void;
  /** Runs once the command is chosen, before it parses: validators that need heavier modules. */
  prepare?(command: Command): Promise<void>;
}

export interface SettingSelection {
  readonly groups?: readonly SettingGroup[];
  readonly settings?: readonly SettingName[];
  readonly except?: readonly SettingName[];
}
