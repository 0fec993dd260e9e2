import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * Start-up time of the `parley` commands a user types most, against their target: each is
 * a whole process (node start-up included), timed from spawn to exit, median of the runs.
 * Run after `npm run build`: node dist/services/cli/startup-bench.js [runs]
 */
const TARGET_MS = 300;
const CLI = fileURLToPath(new URL("./parley.js", import.meta.url));
const CASES: readonly (readonly string[])[] = [["--version"], ["--help"], ["token", "alice"]];

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function timeOnce(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`parley ${args.join(" ")} exited with ${String(result.status)}: ${result.stderr.toString()}`);
  return elapsed;
}

function main(): void {
  const runs = Number(process.argv[2] ?? 15);
  // A data directory of its own: `parley token` creates its dev secret there, not in the checkout.
  const dataDir = mkdtempSync(join(tmpdir(), "parley-startup-"));
  const env = { ...process.env, PARLEY_DATA_DIR: dataDir };
  try {
    process.stdout.write(`parley start-up, median wall time of ${runs} runs (target ${TARGET_MS} ms each)\n`);
    for (const args of CASES) {
      timeOnce(args, env); // warm-up: file system caches, the dev secret
      const times = Array.from({ length: runs }, () => timeOnce(args, env));
      const ms = median(times);
      const verdict = ms <= TARGET_MS ? "ok" : "OVER TARGET";
      process.stdout.write(`  parley ${args.join(" ").padEnd(12)} ${ms.toFixed(0).padStart(5)} ms  / ${TARGET_MS} ms  ${verdict}\n`);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
