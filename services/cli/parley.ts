#!/usr/bin/env node
import { InvalidArgumentError } from "commander";
import { runParley } from "./program.js";

try {
  await runParley(process.argv.slice(2));
} catch (error) {
  if (error instanceof InvalidArgumentError) exitWithUsageError(error.message);
  // Loaded only on this path: the settings table (and zod) must not slow every start.
  const { ConfigError } = await import("../runtime/config.js");
  if (error instanceof ConfigError) exitWithUsageError(error.message);
  throw error;
}

function exitWithUsageError(message: string): never {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(2);
}
