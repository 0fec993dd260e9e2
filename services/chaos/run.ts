#!/usr/bin/env node
/**
 * The chaos runner: `node dist/services/chaos/run.js [scenario...]` (make chaos). Runs each
 * scenario (services/chaos/scenario.ts, faults in faults.ts) against `parley serve`
 * processes on the real back ends, prints one markdown row per scenario as it ends and
 * the table at the end, for docs/operations.md. Exits 1 when a scenario lost or duplicated
 * an acked message, or could not run. Whatever happens, the partition's iptables rules are
 * removed, the processes killed, and the three-node Kafka and the Redis failover cluster
 * stopped when this run started them.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Command } from "commander";
import { killAllCliProcesses } from "../bench/cli-process.js";
import { FAULTS, healPartition } from "./faults.js";
import { runScenario } from "./scenario.js";
import { failedRow, TABLE_HEADER, tableRow } from "./table.js";

const run = promisify(execFile);
const SERVERS = join(import.meta.dirname, "..", "..", "..", "hack", "servers");
/** Scenarios that leave the shared back ends alone, for `make chaos-short`. */
const SHORT = ["process-kill", "replica-kill", "spike", "reconnect-storm", "kafka-partition", "kafka3-broker-lost", "redis-cluster-failover"];
/** The order of a full run: the shared back ends' restarts last, as they disturb other users of them. */
const ALL = [...SHORT, "redis-restart", "kafka-restart", "cassandra-restart"];

function log(text: string): void {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${text}\n`);
}

function cleanUpNow(): void {
  try {
    healPartition();
  } catch (error) {
    log(`removing the partition rules failed: ${error instanceof Error ? error.message : String(error)}; run hack/chaos/partition.sh heal`);
  }
  killAllCliProcesses();
}

async function main(): Promise<number> {
  const program = new Command("parley-chaos")
    .description("Runs fault scenarios against parley serve processes on the real back ends and prints a markdown table of what the faults did to the messages.")
    .argument("[scenario...]", `scenarios (${ALL.join(", ")}); "short" for ${SHORT.join(", ")}; default all; also, by name only, "soak" (30 minutes; PARLEY_CHAOS_SOAK_MINUTES) and "chat-kill"`)
    .option("--rate <n>", "messages per second per flow (four flows)", "5")
    .option("--before <s>", "seconds of traffic before the fault", "5")
    .option("--after <s>", "seconds of traffic after the fault is over", "15")
    .option("--drain <s>", "seconds unacked messages are still retried after the traffic", "30")
    .option("--request-timeout <ms>", "time limit of a request before the client retries", "3000")
    .option("--replicas <n>", "processes per service (chat, groups, presence, assets; replica-kill takes at least 2)", "1")
    .parse();
  const opts = program.opts<RunOptions>();
  const asked = program.args.flatMap((name) => (name === "short" ? SHORT : [name]));
  const scenarios = asked.length > 0 ? asked : ALL;
  for (const name of scenarios) if (!(name in FAULTS)) throw new Error(`no scenario ${name}; known: ${ALL.join(", ")}`);

  // Servers of their own that only some scenarios need: started when not running, and then stopped at the end.
  const started: ServerOnRequest[] = [];
  try {
    if (scenarios.some((name) => FAULTS[name]?.kafka === "three")) await startUnlessRunning(KAFKA3, started);
    if (scenarios.some((name) => FAULTS[name]?.redis === "failover-cluster")) await startUnlessRunning(REDIS_FAILOVER, started);
    return await runAll(scenarios, opts);
  } finally {
    for (const server of started) {
      log(`stopping the ${server.what} this run started`);
      await run(join(SERVERS, server.script), ["down", server.mode]).catch((error: unknown) => {
        log(`stopping it failed: ${String(error)}`);
      });
    }
  }
}

interface ServerOnRequest {
  what: string;
  script: string;
  /** The argument after up, down and status. */
  mode: string;
}

const KAFKA3: ServerOnRequest = { what: "three-node Kafka", script: "kafka.sh", mode: "3" };
const REDIS_FAILOVER: ServerOnRequest = { what: "Redis failover cluster", script: "redis.sh", mode: "failover" };

async function startUnlessRunning(server: ServerOnRequest, started: ServerOnRequest[]): Promise<void> {
  const path = join(SERVERS, server.script);
  const running = await run(path, ["status", server.mode]).then(
    () => true,
    () => false,
  );
  if (running) return;
  log(`starting the ${server.what} (hack/servers/${server.script} up ${server.mode})`);
  // Counted as started before it is up: a start that fails half-way is stopped too.
  started.push(server);
  await run(path, ["up", server.mode], { timeout: 300_000 });
}

interface RunOptions {
  rate: string;
  before: string;
  after: string;
  drain: string;
  requestTimeout: string;
  replicas: string;
}

async function runAll(scenarios: readonly string[], opts: RunOptions): Promise<number> {
  const rows: string[] = [];
  let failed = false;
  for (const name of scenarios) {
    try {
      const result = await runScenario(name, {
        rate: Number(opts.rate),
        beforeMs: Number(opts.before) * 1000,
        afterMs: Number(opts.after) * 1000,
        drainMs: Number(opts.drain) * 1000,
        requestTimeoutMs: Number(opts.requestTimeout),
        replicas: Number(opts.replicas),
        log,
      });
      if (result.lost > 0 || result.duplicated > 0) failed = true;
      rows.push(tableRow(result));
      process.stderr.write(`${JSON.stringify(result)}\n`);
    } catch (error) {
      failed = true;
      rows.push(failedRow(name, error));
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      cleanUpNow();
    }
    process.stdout.write(`${rows.at(-1) ?? ""}\n`);
  }
  process.stdout.write(`\n${[...TABLE_HEADER, ...rows].join("\n")}\n`);
  return failed ? 1 : 0;
}

process.once("exit", cleanUpNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    cleanUpNow();
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
