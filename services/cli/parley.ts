#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { ConfigError } from "../runtime/config.js";
import { registerConnectCommand } from "./connect-command.js";
import { registerDevCommand } from "./dev-command.js";
import { registerOperatorCommand } from "./operator-command.js";
import { registerServeCommand } from "./serve-command.js";
import { registerTokenCommand } from "./token-command.js";

const program = new Command("parley")
  .description("Parley: a Kubernetes-native messaging platform")
  .version("0.1.0")
  .showHelpAfterError()
  .addHelpText("after", "\nConfiguration reference: docs/configuration.md. Wire protocol: docs/protocol.md.");

registerDevCommand(program);
registerTokenCommand(program);
registerConnectCommand(program);
registerServeCommand(program);
registerOperatorCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError || error instanceof InvalidArgumentError) {
    process.stderr.write(`parley: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
