#!/usr/bin/env node
/**
 * Parley's benchmark: `make bench`. Runs the real server (`parley dev`) as a child
 * process, drives it with ParleyClient from this process and prints message throughput,
 * latency, memory per idle connection and group fan-out (group-fanout.ts): a short report,
 * then one JSON line with every figure for later comparison. It fails only when it cannot
 * measure (the server does not start, crashes, or the run passes its time limit), never
 * because of a number.
 */
import { Command, Option } from "commander";
import { loadavg, tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { ParleyClient } from "../sdk/index.js";
import { openBenchClient, sendDirect } from "./bench-client.js";
import { CliProcess, killAllCliProcesses, RAISED_LIMITS, type DevStartOptions, type StopResult } from "./cli-process.js";
import { wholeNumber } from "./command-line.js";
import { describeEnvironment, environment, filesystemOf } from "./environment.js";
import { describeFlows, driveFlows, type Flow, type FlowFigures } from "./flows.js";
import { describeGroupFanout, groupFanoutBenchmark, type GroupFanoutReport } from "./group-fanout.js";
import { readMetricsOrNone } from "./metrics-scrape.js";
import type { ProbeReply } from "./probe.js";
import { benchText, kib, perSecond, round2 } from "./stats.js";

interface Options {
  messages: number;
  window: number;
  twoWay: boolean;
  textBytes: number;
  connections: number;
  connectBatch: number;
  timeout: number;
  serverNodeOptions?: string;
  serverLog?: string;
  group: boolean;
  groupMembers: number;
  groupMessages: number;
  groupLogLevel: string;
}

/** Server settings for every run: rate limits out of the way, room for many connections. */
const SERVER_ENV: Record<string, string> = { ...RAISED_LIMITS, PARLEY_SHUTDOWN_GRACE_MS: "5000" };
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
/** A throughput run whose deliveries make no progress for this long is reported as incomplete. */
const DELIVERY_STALL_MS = 15_000;
const WARMUP_MESSAGES = 1_000;
const WARMUP_CONNECTIONS = 20;
const SETTLE_MS = 3_000;
/** Left of --timeout for reporting when the group phase works out its own time limit. */
const REPORT_MARGIN_MS = 20_000;

/** What the run is doing now, for the timeout message. */
let phase = "starting";

function progress(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${text}\n`);
}

// ---- figures ----------------------------------------------------------------

/** Server CPU between two probes, in percent of one core. */
function cpuPercent(before: ProbeReply, after: ProbeReply, wallMs: number): number {
  const usedUs = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
  return wallMs > 0 ? Math.round(usedUs / 10 / wallMs) : 0;
}

// ---- throughput ---------------------------------------------------------------

interface ThroughputResult extends FlowFigures {
  directions: number;
  messagesPerDirection: number;
  window: number;
  textBytes: number;
  serverCpuPercent: number;
  benchCpuPercent: number;
  serverEventLoopDelayMs: ProbeReply["loopDelayMs"];
}

async function runThroughput(server: CliProcess, flows: Flow[], n: number, window: number, text: string): Promise<ThroughputResult> {
  const probeBefore = await server.probe({ resetLoopDelay: true });
  const benchCpuBefore = process.cpuUsage();
  const start = performance.now();
  const figures = await driveFlows(flows, n, { window }, text, phase, { stallMs: DELIVERY_STALL_MS, progress });
  const wallMs = performance.now() - start;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const probeAfter = await server.probe();
  return {
    directions: flows.length,
    messagesPerDirection: n,
    window,
    textBytes: text.length,
    ...figures,
    serverCpuPercent: cpuPercent(probeBefore, probeAfter, wallMs),
    benchCpuPercent: wallMs > 0 ? Math.round((benchCpu.user + benchCpu.system) / 10 / wallMs) : 0,
    serverEventLoopDelayMs: probeAfter.loopDelayMs,
  };
}

interface ThroughputReport {
  server: ServerFacts;
  warmupMessages: number;
  oneWay: ThroughputResult;
  twoWay: ThroughputResult | null;
  serverMetrics: Record<string, number>;
}

async function throughputBenchmark(options: Options): Promise<ThroughputReport> {
  phase = "throughput: starting the server";
  const server = await CliProcess.dev(serverStartOptions("throughput", options));
  const websocketUrl = server.websocketUrl;
  const clients: ParleyClient[] = [];
  let closing = false;
  try {
    progress(`throughput server pid ${server.pid} at ${websocketUrl} (data in ${server.dataDir})`);
    const tokens = server.tokens();
    const connect = async (userId: string): Promise<ParleyClient> => {
      const client = await openBenchClient(websocketUrl, await tokens.issue(userId, 3600));
      client.on("error", (error) => {
        progress(`${userId}: ${error.message}`);
      });
      client.on("close", ({ code, reason }) => {
        if (!closing) progress(`${userId}'s connection closed (${code}${reason ? `: ${reason}` : ""})`);
      });
      clients.push(client);
      return client;
    };
    const alice = await connect("alice");
    const bob = await connect("bob");
    const text = benchText(options.textBytes);

    phase = "throughput: warm-up";
    const warmup = Math.min(WARMUP_MESSAGES, options.messages);
    progress(`warm-up: ${warmup} messages alice → bob`);
    await runThroughput(server, [{ from: alice, to: bob, prefix: "warmup-" }], warmup, options.window, text);

    phase = "throughput: one way";
    progress(`one way: ${options.messages} messages alice → bob, window ${options.window}`);
    const oneWay = await runThroughput(server, [{ from: alice, to: bob, prefix: "a2b-1-" }], options.messages, options.window, text);
    progress(`one way: ${oneWay.acksPerSecond} acks/s, ${oneWay.deliveriesPerSecond} deliveries/s`);

    let twoWay: ThroughputResult | null = null;
    if (options.twoWay) {
      phase = "throughput: both ways";
      progress(`both ways: ${options.messages} messages each way at once, window ${options.window} each`);
      twoWay = await runThroughput(
        server,
        [
          { from: alice, to: bob, prefix: "a2b-2-" },
          { from: bob, to: alice, prefix: "b2a-2-" },
        ],
        options.messages,
        options.window,
        text,
      );
      progress(`both ways: ${twoWay.acksPerSecond} acks/s, ${twoWay.deliveriesPerSecond} deliveries/s in total`);
    }
    const serverMetrics = await scrapeMetrics(server.url);
    closing = true;
    await Promise.all(clients.map((c) => c.close()));
    phase = "throughput: stopping the server";
    const stopped = await server.stop(STOP_TIMEOUT_MS);
    return { server: serverFacts(server, stopped), warmupMessages: warmup, oneWay, twoWay, serverMetrics };
  } finally {
    closing = true;
    await server.stop(STOP_TIMEOUT_MS);
  }
}

function serverStartOptions(label: string, options: Options): DevStartOptions {
  return {
    label,
    env: SERVER_ENV,
    startTimeoutMs: START_TIMEOUT_MS,
    nodeFlags: options.serverNodeOptions?.split(/\s+/).filter((flag) => flag !== "") ?? [],
    ...(options.serverLog === undefined ? {} : { logFile: options.serverLog }),
  };
}

// ---- memory per idle connection -------------------------------------------------

interface MemoryResult {
  requested: number;
  opened: number;
  failed: number;
  firstFailure: string | null;
  connectBatch: number;
  connectMs: number;
  connectsPerSecond: number;
  /** The server's own count of open connections once all were open. */
  serverConnectionsGauge: number | null;
  /** Connections the server closed before the benchmark stopped it. */
  unexpectedCloses: number;
  rssBeforeKiB: number | null;
  rssAfterKiB: number | null;
  rssSettledKiB: number | null;
  /** (rss after all hellos − rss before) / opened. */
  rssKiBPerConnection: number | null;
  /** The same after a settle and a full GC. */
  rssKiBPerConnectionSettled: number | null;
  /** Server RSS after half the connections, a settle and a GC. */
  rssHalfKiB: number | null;
  halfOpened: number;
  /** (rss settled − rss at half) / connections opened in the second half: the cost of one more connection. */
  marginalRssKiBPerConnection: number | null;
  marginalHeapUsedKiBPerConnection: number | null;
  heapUsedKiBPerConnection: number | null;
  /** V8 heap reserved from the system (used + free pages), per connection. */
  heapTotalKiBPerConnection: number | null;
  externalKiBPerConnection: number | null;
  heapUsedBeforeKiB: number;
  heapUsedSettledKiB: number;
}

interface MemoryReport {
  server: ServerFacts;
  memory: MemoryResult;
}

async function memoryBenchmark(options: Options): Promise<MemoryReport> {
  phase = "memory: starting the server";
  const server = await CliProcess.dev(serverStartOptions("memory", options));
  const websocketUrl = server.websocketUrl;
  const clients: ParleyClient[] = [];
  let unexpectedCloses = 0;
  try {
    progress(`memory server pid ${server.pid} at ${websocketUrl} (data in ${server.dataDir})`);
    const tokens = server.tokens();
    const connect = async (userId: string): Promise<ParleyClient> => {
      const client = await openBenchClient(websocketUrl, await tokens.issue(userId, 3600));
      client.on("error", () => undefined);
      return client;
    };
    const watchIdle = (client: ParleyClient): void => {
      client.on("close", () => {
        if (server.running) unexpectedCloses += 1;
      });
    };

    // Warm-up: the connect, send and delivery paths run (and get compiled) before measuring.
    phase = "memory: warm-up";
    const warm = await Promise.all(Array.from({ length: WARMUP_CONNECTIONS }, (_, i) => connect(`warm-${i}`)));
    await Promise.all(warm.map((client, i) => sendDirect(client, `warm-${(i + 1) % warm.length}`, "warm-up", `warm-up-${i}`)));
    await Promise.all(warm.map((client) => client.close()));
    await sleep(500);

    phase = "memory: baseline";
    const before = await server.probe({ gc: true });
    await sleep(1_000);
    const rssBefore = server.rssKiB();
    progress(`server RSS before: ${String(rssBefore)} KiB; heap used ${kib(before.memory.heapUsed)} KiB`);

    phase = "memory: opening idle connections";
    progress(`opening ${options.connections} idle connections, ${options.connectBatch} at a time, pausing half way`);
    let failed = 0;
    let firstFailure: string | null = null;
    let connectMs = 0;
    const open = async (from: number, to: number): Promise<void> => {
      const started = performance.now();
      for (let first = from; first < to; first += options.connectBatch) {
        const results = await Promise.allSettled(
          Array.from({ length: Math.min(options.connectBatch, to - first) }, (_, k) => connect(`idle-${first + k}`)),
        );
        for (const result of results) {
          if (result.status === "fulfilled") {
            watchIdle(result.value);
            clients.push(result.value);
          } else {
            failed += 1;
            firstFailure ??= result.reason instanceof Error ? result.reason.message : String(result.reason);
          }
        }
        if (!server.running) throw new Error(`the memory server died while connections were opening (${server.describeExit()})`);
      }
      connectMs += performance.now() - started;
    };
    /** RSS and heap after a settle and a full GC. */
    const settle = async (): Promise<{ rss: number | null; probe: ProbeReply }> => {
      await sleep(SETTLE_MS);
      const probe = await server.probe({ gc: true });
      await sleep(1_000);
      return { rss: server.rssKiB(), probe };
    };

    // Half way the server has already paid its one-off costs (V8 growing its young
    // generation, allocator arenas), so the second half's growth is the per-connection cost.
    const half = Math.floor(options.connections / 2);
    await open(0, half);
    const halfOpened = clients.length;
    phase = "memory: settling half way";
    const atHalf = half > 0 ? await settle() : null;
    progress(`${halfOpened} connections open; after settle and GC: server RSS ${String(atHalf?.rss ?? null)} KiB`);
    phase = "memory: opening idle connections";
    await open(half, options.connections);
    const rssAfter = server.rssKiB();
    progress(`${clients.length} connections open (${failed} failed) in ${Math.round(connectMs)} ms; server RSS ${String(rssAfter)} KiB`);

    phase = "memory: settling";
    const { rss: rssSettled, probe: settled } = await settle();
    const metrics = await scrapeMetrics(server.url);
    progress(`after settle and GC: server RSS ${String(rssSettled)} KiB; heap used ${kib(settled.memory.heapUsed)} KiB`);

    const opened = clients.length;
    const perConnection = (after: number | null, base: number | null, connections = opened): number | null =>
      after === null || base === null || connections <= 0 ? null : round2((after - base) / connections);
    const memory: MemoryResult = {
      requested: options.connections,
      opened,
      failed,
      firstFailure,
      connectBatch: options.connectBatch,
      connectMs: Math.round(connectMs),
      connectsPerSecond: perSecond(opened, connectMs),
      serverConnectionsGauge: metrics.parley_gateway_connections ?? null,
      unexpectedCloses,
      rssBeforeKiB: rssBefore,
      rssAfterKiB: rssAfter,
      rssSettledKiB: rssSettled,
      rssKiBPerConnection: perConnection(rssAfter, rssBefore),
      rssKiBPerConnectionSettled: perConnection(rssSettled, rssBefore),
      rssHalfKiB: atHalf?.rss ?? null,
      halfOpened,
      marginalRssKiBPerConnection: atHalf ? perConnection(rssSettled, atHalf.rss, opened - halfOpened) : null,
      marginalHeapUsedKiBPerConnection: atHalf
        ? perConnection(settled.memory.heapUsed / 1024, atHalf.probe.memory.heapUsed / 1024, opened - halfOpened)
        : null,
      heapUsedKiBPerConnection: perConnection(settled.memory.heapUsed / 1024, before.memory.heapUsed / 1024),
      heapTotalKiBPerConnection: perConnection(settled.memory.heapTotal / 1024, before.memory.heapTotal / 1024),
      externalKiBPerConnection: perConnection(settled.memory.external / 1024, before.memory.external / 1024),
      heapUsedBeforeKiB: kib(before.memory.heapUsed),
      heapUsedSettledKiB: kib(settled.memory.heapUsed),
    };

    // Stop the server with every connection open: the drain is part of what is measured.
    phase = "memory: stopping the server";
    progress(`stopping the memory server with ${opened} connections open`);
    const stopped = await server.stop(STOP_TIMEOUT_MS);
    return { server: serverFacts(server, stopped), memory };
  } finally {
    await server.stop(STOP_TIMEOUT_MS);
    await Promise.race([Promise.all(clients.map((c) => c.close())), sleep(5_000)]);
  }
}

// ---- group fan-out ------------------------------------------------------------------

/** The group fan-out phase (group-fanout.ts), within what is left of --timeout. */
function groupBenchmark(options: Options, started: number): Promise<GroupFanoutReport> {
  const budgetMs = Math.max(10_000, options.timeout * 1000 - (performance.now() - started) - REPORT_MARGIN_MS);
  return groupFanoutBenchmark(
    {
      members: options.groupMembers,
      messages: options.groupMessages,
      connectBatch: options.connectBatch,
      textBytes: options.textBytes,
      logLevel: options.groupLogLevel,
      idleBatchDelayMs: 1_000,
      budgetMs,
    },
    {
      startOptions: (label) => serverStartOptions(label, options),
      stopTimeoutMs: STOP_TIMEOUT_MS,
      progress,
      setPhase: (text) => {
        phase = text;
      },
    },
  );
}

// ---- server facts and metrics ---------------------------------------------------

interface ServerFacts {
  command: string[];
  env: Record<string, string>;
  warnLogs: number;
  errorLogs: number;
  problemLogs: string[];
  shutdownMs: number;
  shutdownExit: string;
  shutdownKilled: boolean;
}

function serverFacts(server: CliProcess, stopped: StopResult): ServerFacts {
  return {
    command: server.command,
    env: SERVER_ENV,
    warnLogs: server.warnCount,
    errorLogs: server.errorCount,
    problemLogs: server.problems,
    shutdownMs: stopped.ms,
    shutdownExit: server.describeExit(),
    shutdownKilled: stopped.killed,
  };
}

/** A few series from the server's /metrics: connections, disconnects, rate limiting, invalid frames. */
function scrapeMetrics(httpUrl: string): Promise<Record<string, number>> {
  const wanted = /^(parley_gateway_connections|parley_gateway_disconnects_total|parley_gateway_upgrades_rejected_total|parley_gateway_frames_received_total\{type="(rate_limited|invalid)"\}|parley_chat_messages_stored_total)/;
  return readMetricsOrNone(httpUrl, (series) => wanted.test(series), progress);
}

// ---- report -----------------------------------------------------------------------

function describeThroughput(title: string, r: ThroughputResult): string[] {
  return [
    `${title} (${r.directions === 1 ? "alice → bob" : "alice ⇄ bob"}, ${r.messagesPerDirection} messages${r.directions > 1 ? " each way" : ""}, window ${r.window}, ${r.textBytes}-byte text)`,
    ...describeFlows(r),
    `  CPU: server ${r.serverCpuPercent}% of a core, benchmark ${r.benchCpuPercent}%; server event-loop delay p50 ${r.serverEventLoopDelayMs.p50} ms, p99 ${r.serverEventLoopDelayMs.p99} ms, max ${r.serverEventLoopDelayMs.max} ms`,
  ];
}

function describeMemory(m: MemoryResult, server: ServerFacts): string[] {
  const figure = (value: number | null): string => (value === null ? "n/a" : `${value} KiB`);
  return [
    `Memory per idle connection (${m.opened} of ${m.requested} connections, each its own user; opened ${m.connectBatch} at a time)`,
    `  opened in ${m.connectMs} ms (${m.connectsPerSecond} connections/s)${m.failed > 0 ? `, ${m.failed} failed: ${m.firstFailure ?? ""}` : ""}; server counted ${String(m.serverConnectionsGauge)}`,
    `  server RSS: before ${figure(m.rssBeforeKiB)}, after all hellos ${figure(m.rssAfterKiB)}, after ${SETTLE_MS / 1000} s and GC ${figure(m.rssSettledKiB)}`,
    `  server RSS after the first ${m.halfOpened}, a settle and GC: ${figure(m.rssHalfKiB)}`,
    `  RSS per connection, (after − before) / ${m.opened}: ${figure(m.rssKiBPerConnection)} after hellos, ${figure(m.rssKiBPerConnectionSettled)} settled`,
    `  RSS per connection, second half only: ${figure(m.marginalRssKiBPerConnection)} (RSS moves in steps as V8 grows its heap); JS heap used: ${figure(m.marginalHeapUsedKiBPerConnection)}`,
    `  per connection overall, JS heap used: ${figure(m.heapUsedKiBPerConnection)}, V8 heap reserved: ${figure(m.heapTotalKiBPerConnection)}, external (Buffers): ${figure(m.externalKiBPerConnection)}`,
    `  shutdown with all connections open: ${server.shutdownMs} ms (${server.shutdownExit}${server.shutdownKilled ? ", KILLED after the time limit" : ""})`,
    ...(m.unexpectedCloses > 0 ? [`  ${m.unexpectedCloses} connections were closed by the server before shutdown`] : []),
  ];
}

function describeServerLogs(label: string, server: ServerFacts): string[] {
  if (server.warnLogs + server.errorLogs === 0) return [];
  return [`  ${label} server logged ${server.warnLogs} warnings and ${server.errorLogs} errors, first ones:`, ...server.problemLogs.slice(0, 5).map((l) => `    ${l}`)];
}

// ---- command line -----------------------------------------------------------------

function parseOptions(argv: string[]): Options {
  const program = new Command("parley-bench")
    .description(
      "Starts `parley dev` as a child process (fresh data directory, rate limits raised) and measures message\n" +
        "throughput, latency, server memory per idle connection and group fan-out. Prints a report, then one JSON line.\n" +
        "Never fails on a figure; exits non-zero only when it cannot measure or passes --timeout.",
    )
    .addOption(new Option("--messages <n>", "messages per direction in each throughput run (0 skips throughput)").env("PARLEY_BENCH_MESSAGES").argParser(wholeNumber(0, 10_000_000)).default(20_000))
    .addOption(new Option("--window <n>", "unacked sends kept in flight per sender").env("PARLEY_BENCH_WINDOW").argParser(wholeNumber(1, 100_000)).default(64))
    .addOption(new Option("--connections <n>", "idle connections for the memory figure (0 skips it)").env("PARLEY_BENCH_CONNECTIONS").argParser(wholeNumber(0, 1_000_000)).default(2_000))
    .addOption(new Option("--connect-batch <n>", "idle connections opened at once").env("PARLEY_BENCH_CONNECT_BATCH").argParser(wholeNumber(1, 10_000)).default(100))
    .addOption(new Option("--text-bytes <n>", "length of each message's text").env("PARLEY_BENCH_TEXT_BYTES").argParser(wholeNumber(1, 4096)).default(64))
    .addOption(new Option("--no-two-way", "skip the run with both users sending at once"))
    .addOption(new Option("--group-members <n>", "members of the group in the fan-out phase, owner included, each its own connection from this process (a file descriptor here and in the server: mind ulimit -n)").env("PARLEY_BENCH_GROUP_MEMBERS").argParser(wholeNumber(2, 100_000)).default(10_000))
    .addOption(new Option("--group-messages <n>", "group messages the owner sends back to back in the realtime and batched fan-out runs").env("PARLEY_BENCH_GROUP_MESSAGES").argParser(wholeNumber(1, 10_000)).default(20))
    .addOption(new Option("--group-log-level <level>", "the fan-out servers' log level (at info the log sink writes a line per notification)").choices(["fatal", "error", "warn", "info", "debug"]).default("warn"))
    .addOption(new Option("--no-group", "skip the group fan-out phase"))
    .addOption(new Option("--timeout <seconds>", "kill everything and exit 1 after this long").env("PARLEY_BENCH_TIMEOUT").argParser(wholeNumber(10, 86_400)).default(300))
    .addOption(new Option("--server-node-options <flags>", 'extra Node.js flags for the server children, for investigations (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")'))
    .addOption(new Option("--server-log <file>", "append the server children's stdout and stderr to <file>"))
    .showHelpAfterError()
    .addHelpText("after", "\nEach flag can also be set with its PARLEY_BENCH_* variable, e.g. PARLEY_BENCH_MESSAGES=5000 make bench.");
  program.parse(argv);
  return program.opts<Options>();
}

// ---- main ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const options = parseOptions(process.argv);
  const deadline = setTimeout(() => {
    process.stderr.write(`parley-bench: timed out after ${options.timeout} s during "${phase}"; killing the server\n`);
    killAllCliProcesses();
    process.exit(1);
  }, options.timeout * 1000);
  const interrupt = (): void => {
    process.stderr.write(`parley-bench: interrupted during "${phase}"\n`);
    killAllCliProcesses();
    process.exit(130);
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);

  const started = performance.now();
  const env = { ...environment(), dataDirFilesystem: filesystemOf(tmpdir()) };
  const loadStart = loadavg();
  try {
    const throughput = options.messages > 0 ? await throughputBenchmark(options) : null;
    const memory = options.connections > 0 ? await memoryBenchmark(options) : null;
    const group = options.group ? await groupBenchmark(options, started) : null;
    phase = "reporting";

    const lines = [
      "",
      `Parley benchmark — ${describeEnvironment(env)}`,
      `data directory on ${env.dataDirFilesystem ?? "unknown filesystem"}; server env ${Object.entries(SERVER_ENV).map(([k, v]) => `${k}=${v}`).join(" ")}`,
      "",
    ];
    if (throughput) {
      lines.push(...describeThroughput("Throughput, one way", throughput.oneWay), "");
      if (throughput.twoWay) lines.push(...describeThroughput("Throughput, both ways at once (figures are totals)", throughput.twoWay), "");
      lines.push(...describeServerLogs("throughput", throughput.server));
    }
    if (memory) lines.push(...describeMemory(memory.memory, memory.server), ...describeServerLogs("memory", memory.server), "");
    if (group) lines.push(...describeGroupFanout(group));
    lines.push(`Load average at the start ${loadStart.map((l) => l.toFixed(2)).join(" ")}, at the end ${loadavg().map((l) => l.toFixed(2)).join(" ")} (${env.cpus} CPUs; other processes count too)`);
    lines.push(`Total time ${Math.round((performance.now() - started) / 1000)} s. JSON:`);
    process.stdout.write(lines.join("\n") + "\n");
    process.stdout.write(
      JSON.stringify({
        benchmark: "parley",
        schema: 1,
        at: new Date().toISOString(),
        environment: env,
        options,
        throughput,
        memory,
        group,
        loadAverage: { start: loadStart, end: loadavg() },
      }) + "\n",
    );
    return 0;
  } catch (error) {
    process.stderr.write(`parley-bench: failed during "${phase}": ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    killAllCliProcesses();
    return 1;
  } finally {
    clearTimeout(deadline);
  }
}

process.exit(await main());
