/**
 * `make bench`'s "big group burst" figure: a group of 10,000 members, most of them
 * offline, receives one message from each of 200 senders at once. While the server fans
 * them out, this samples its `/healthz` latency, its event-loop lag (prom-client's
 * `nodejs_eventloop_lag_*`, from `/metrics`) and its resident memory (from /proc, which
 * answers even while the event loop is busy), and prints each beside its target.
 * Figures only: nothing fails on a number; it fails only when it cannot measure.
 *
 *   node dist/services/bench/big-group-burst.js [--members 10000] [--senders 200] [--online 500]
 */
import { Command } from "commander";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ParleyClient } from "../sdk/index.js";
import { openBenchClient, sendGroupMessage, userIdOf } from "./bench-client.js";
import { CliProcess, killAllCliProcesses, RAISED_LIMITS } from "./cli-process.js";
import { wholeNumber } from "./command-line.js";
import { describeEnvironment, environment } from "./environment.js";
import { readMetrics } from "./metrics-scrape.js";
import { percentiles } from "./stats.js";

interface Options {
  members: number;
  senders: number;
  /** Members with a connection, senders included; the rest are offline. */
  online: number;
  /** How long the burst may go without progress before the run gives up, in ms. */
  stallMs: number;
}

/** The targets of issue 14, printed beside the figures. */
const HEALTHZ_TARGET_MS = 100;
const LOOP_LAG_P99_TARGET_MS = 100;
const MEMBERS_PER_FRAME = 256;
const CONNECT_BATCH = 100;
/** Gaps between samples: /healthz as a liveness probe would ask, but far more often. */
const HEALTHZ_EVERY_MS = 50;
const RSS_EVERY_MS = 20;
/** prom-client resets its event-loop histogram at each scrape, so each scrape is one stretch. */
const METRICS_EVERY_MS = 500;
const OFFLINE_SERIES = 'parley_group_deliveries_total{tier="offline"}';

function progress(text: string): void {
  process.stderr.write(`[big-group-burst] ${text}\n`);
}

/** Deliveries counted offline so far (each offline member of each message counts once). */
async function offlineDeliveries(url: string): Promise<number> {
  const figures = await readMetrics(url, (series) => series === OFFLINE_SERIES, 60_000);
  return figures[OFFLINE_SERIES] ?? 0;
}

/** Samples until `stop` is set: one sampler per figure, each waiting for its own answer. */
class BurstSampler {
  readonly healthzMs: number[] = [];
  readonly loopLagP99Ms: number[] = [];
  loopLagMaxMs = 0;
  peakRssKiB = 0;
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(private readonly server: CliProcess) {
    this.loops = [this.sampleHealthz(), this.sampleRss(), this.sampleLoopLag()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async sampleHealthz(): Promise<void> {
    while (!this.stopped) {
      const started = performance.now();
      try {
        const response = await fetch(`${this.server.url}/healthz`, { signal: AbortSignal.timeout(120_000) });
        await response.body?.cancel();
        this.healthzMs.push(performance.now() - started);
      } catch (error) {
        progress(`/healthz failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(HEALTHZ_EVERY_MS);
    }
  }

  private async sampleRss(): Promise<void> {
    while (!this.stopped) {
      this.peakRssKiB = Math.max(this.peakRssKiB, this.server.rssKiB() ?? 0);
      await sleep(RSS_EVERY_MS);
    }
  }

  private async sampleLoopLag(): Promise<void> {
    while (!this.stopped) {
      try {
        const figures = await readMetrics(this.server.url, (series) => series.startsWith("nodejs_eventloop_lag_"), 120_000);
        const p99 = figures["nodejs_eventloop_lag_p99_seconds"];
        const max = figures["nodejs_eventloop_lag_max_seconds"];
        if (p99 !== undefined) this.loopLagP99Ms.push(p99 * 1000);
        if (max !== undefined) this.loopLagMaxMs = Math.max(this.loopLagMaxMs, max * 1000);
      } catch (error) {
        progress(`/metrics failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(METRICS_EVERY_MS);
    }
  }
}

function verdict(value: number, target: number): string {
  return value <= target ? "met" : "missed";
}

const ms = (value: number): string => `${Math.round(value).toLocaleString("en-US")} ms`;
const mib = (kib: number): string => `${Math.round(kib / 1024).toLocaleString("en-US")} MiB`;

async function run(options: Options): Promise<void> {
  const server = await CliProcess.dev({
    label: "big-group-burst",
    env: { ...RAISED_LIMITS, PARLEY_MAX_GROUP_MEMBERS: String(options.members) },
    startTimeoutMs: 60_000,
    // The log sink writes a line per notification at info: kept out of the figures.
    logLevel: "warn",
    logFile: join(tmpdir(), "parley-big-group-burst.log"),
  });
  const clients: ParleyClient[] = [];
  try {
    progress(`server pid ${server.pid} at ${server.url}; connecting ${options.online} of ${options.members} members`);
    const tokens = server.tokens();
    for (let first = 0; first < options.online; first += CONNECT_BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(CONNECT_BATCH, options.online - first) }, async (_, k) =>
          openBenchClient(server.websocketUrl, await tokens.issue(`online-${first + k}`, 3600)),
        ),
      );
      clients.push(...batch);
    }
    const [owner] = clients;
    if (owner === undefined) throw new Error("no member is online");
    const memberIds = [...clients.slice(1).map(userIdOf), ...Array.from({ length: options.members - options.online }, (_, i) => `offline-${i}`)];
    const { groupId } = (await owner.request({ type: "group.create", name: "burst", members: memberIds.slice(0, MEMBERS_PER_FRAME - 1) })).group;
    for (let i = MEMBERS_PER_FRAME - 1; i < memberIds.length; i += MEMBERS_PER_FRAME) {
      await owner.request({ type: "group.add", groupId, members: memberIds.slice(i, i + MEMBERS_PER_FRAME) });
    }
    const offline = options.members - options.online;
    progress(`group ${groupId}: ${options.members} members, ${offline} offline; a first message warms the fan-out up`);
    // The first message: the fan-out meets the group's topic, and the code paths warm up.
    await sendGroupMessage(owner, groupId, "warm-up", "warm-up");
    await waitForOffline(server.url, offline, options.stallMs);

    const before = await offlineDeliveries(server.url);
    const rssBeforeKiB = server.rssKiB() ?? 0;
    const sampler = new BurstSampler(server);
    await sleep(200);
    const started = performance.now();
    const acks = clients.slice(0, options.senders).map((sender, i) => sendGroupMessage(sender, groupId, `burst ${i}`, `burst-${i}`).then(() => performance.now() - started));
    const ackMs = await Promise.all(acks);
    const expected = before + offline * options.senders;
    const reached = await waitForOffline(server.url, expected, options.stallMs);
    const burstMs = performance.now() - started;
    await sleep(METRICS_EVERY_MS);
    await sampler.stop();
    const notifications = await readMetrics(server.url, (series) => series.startsWith("parley_notifications_total"));

    const healthz = percentiles(sampler.healthzMs);
    const loopP99 = Math.max(0, ...sampler.loopLagP99Ms);
    const lines = [
      `big group burst: ${options.members.toLocaleString("en-US")} members (${options.online} online, ${offline.toLocaleString("en-US")} offline), ${options.senders} senders one message each, parley dev (one process)`,
      `  ${describeEnvironment(environment())}; load average ${loadavg()[0]?.toFixed(1) ?? "?"}`,
      `  burst: last offline member handled ${ms(burstMs)} after the first send (${(reached - before).toLocaleString("en-US")} of ${(expected - before).toLocaleString("en-US")} offline deliveries); last ack ${ms(Math.max(...ackMs))}`,
      `  /healthz latency (${healthz?.samples ?? 0} samples): p50 ${ms(healthz?.p50 ?? NaN)}, p99 ${ms(healthz?.p99 ?? NaN)}, max ${ms(healthz?.max ?? NaN)}   target: every one within ${HEALTHZ_TARGET_MS} ms (${verdict(healthz?.max ?? Infinity, HEALTHZ_TARGET_MS)})`,
      `  event-loop lag p99 (worst of ${sampler.loopLagP99Ms.length} scrapes): ${ms(loopP99)}, max ${ms(sampler.loopLagMaxMs)}   target: p99 <= ${LOOP_LAG_P99_TARGET_MS} ms (${verdict(loopP99, LOOP_LAG_P99_TARGET_MS)})`,
      `  resident memory: ${mib(rssBeforeKiB)} before the burst, peak ${mib(sampler.peakRssKiB)}`,
      `  notifications: ${Object.entries(notifications).map(([series, value]) => `${series.replace(/^.*outcome="([^"]+)".*$/, "$1")} ${value.toLocaleString("en-US")}`).join(", ") || "none"}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await server.stop(30_000);
  }
}

/** Waits until the server has counted `expected` offline deliveries; gives up after `stallMs` without progress. */
async function waitForOffline(url: string, expected: number, stallMs: number): Promise<number> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const now = await offlineDeliveries(url);
    if (now >= expected) return now;
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > stallMs) {
      progress(`no progress for ${stallMs} ms: ${now} of ${expected} offline deliveries`);
      return now;
    }
    await sleep(100);
  }
}

const command = new Command("big-group-burst")
  .description("a 10,000-member group receiving one message from each of 200 senders: /healthz latency, event-loop lag and peak memory of the server")
  .option("--members <n>", "group size", wholeNumber(2, 100_000), 10_000)
  .option("--senders <n>", "members sending one message each, all at once", wholeNumber(1, 10_000), 200)
  .option("--online <n>", "members connected (senders included); the rest are offline", wholeNumber(1, 100_000), 500)
  .option("--stall-ms <ms>", "give up after this long without progress", wholeNumber(1_000, 3_600_000), 120_000)
  .action(async (options: Options) => {
    if (options.senders > options.online || options.online > options.members) throw new Error("expected senders <= online <= members");
    await run(options);
  });

process.once("SIGINT", () => {
  killAllCliProcesses();
  process.exit(130);
});
await command.parseAsync();
