#!/usr/bin/env node
import { enableCompileCache } from "node:module";

// V8 keeps the code it compiles for each module in the OS temp directory (keyed by the
// file's content), so every start after the first skips compiling commander, zod, jose...:
// about a fifth of `parley token`'s time. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
enableCompileCache();
// Loaded after the cache is on, so that they are cached too.
const { InvalidArgumentError } = await import("commander");
const { runParley } = await import("./program.js");

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
