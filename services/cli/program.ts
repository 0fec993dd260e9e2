import { Command } from "commander";
import { COMMANDS } from "./commands.js";

/**
 * The `parley` program: every subcommand with its description, arguments and own options,
 * at the cost of loading commander. Only the chosen subcommand gets its setting flags and
 * environment help (which load the settings table) and, when it runs, its implementation.
 */
export function parleyProgram(): Command {
  const program = new Command("parley")
    .description("Parley: a Kubernetes-native messaging platform")
    .version("0.1.0")
    .showHelpAfterError()
    .addHelpText("after", "\nConfiguration reference: docs/configuration.md. Wire protocol: docs/protocol.md.");
  for (const spec of COMMANDS) spec.define(program.command(spec.name));
  return program;
}

/** Parses and runs `parley` with the user's arguments (process.argv without node and the script). */
export async function runParley(args: readonly string[]): Promise<void> {
  const program = parleyProgram();
  await prepareChosenCommand(program, args);
  await program.parseAsync(args, { from: "user" });
}

/**
 * Completes the command the arguments choose, before commander parses them. Done here
 * rather than in a preSubcommand hook because `parley help <command>` prints the command's
 * help without running that hook. The top level has no option that takes a value, so the
 * first argument that is not an option names the command.
 */
async function prepareChosenCommand(program: Command, args: readonly string[]): Promise<void> {
  const operands = args.filter((arg) => !arg.startsWith("-"));
  const name = operands[0] === "help" ? operands[1] : operands[0];
  const spec = COMMANDS.find((candidate) => candidate.name === name);
  const command = program.commands.find((candidate) => candidate.name() === name);
  if (spec === undefined || command === undefined) return;
  const { addSettingOptions } = await import("./settings-options.js");
  addSettingOptions(command, spec);
  await spec.prepare?.(command);
}
