import type { CommandSpec } from "./command-spec.js";
import { connectCommand } from "./connect-command.js";
import { devCommand } from "./dev-command.js";
import { operatorCommand } from "./operator-command.js";
import { serveCommand } from "./serve-command.js";
import { smokeCommand } from "./smoke-command.js";
import { tokenCommand } from "./token-command.js";

/** Every `parley` subcommand, in the order `parley --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [devCommand, tokenCommand, connectCommand, smokeCommand, serveCommand, operatorCommand];
