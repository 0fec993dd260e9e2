/**
 * The benchmark's group fan-out phase (`make bench`, third phase; --no-group skips it).
 * Each run has a fresh `parley dev` child and a group of N members, each its own user
 * with its own connection held by this process:
 *
 * - realtime: all N connected (a fresh connection scores 2, at or above the default
 *   threshold of 1, so every member is active); the owner sends M messages back to back.
 *   Figures: member deliveries per second, time for one message to reach all N;
 * - batched: all N connected but idle (PARLEY_ACTIVE_SCORE_THRESHOLD far above what a
 *   connection scores), batches held PARLEY_IDLE_BATCH_DELAY_MS. Figures: batched
 *   deliveries per second and the batch delay members observe;
 * - offline: a tenth connected (1,000 of 10,000 by default); each message makes a
 *   notification request for every other member (no webhook: the log sink). Figures: how
 *   long one message's fan-out takes, online deliveries and notifications both.
 *
 * Every wait gives up when deliveries stop progressing, and the whole phase gives up at
 * its own deadline, so a stuck server cannot hold the run past it.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { TokenAuthority } from "../auth/tokens.js";
import type { ParleyClient } from "../sdk/index.js";
import { openBenchClient, sendGroupMessage } from "./bench-client.js";
import type { Message } from "../protocol/frames.js";
import type { ProbeReply } from "./probe.js";
import { CliProcess, type DevStartOptions } from "./cli-process.js";
import { waitForProgress } from "./flows.js";
import { readMetrics } from "./metrics-scrape.js";
import { benchText, kib, percentiles as allPercentiles, perSecond, round2, type Percentiles as AllPercentiles } from "./stats.js";

export interface GroupFanoutOptions {
  /** Group size N, owner included. */
  members: number;
  /** Messages M the owner sends back to back in the realtime and batched runs. */
  messages: number;
  /** Connections opened at once. */
  connectBatch: number;
  textBytes: number;
  /** The server's log level; above info the log sink's notification lines are not written. */
  logLevel: string;
  /** PARLEY_IDLE_BATCH_DELAY_MS in the batched run. */
  idleBatchDelayMs: number;
  /** Time limit of the whole phase, in milliseconds. */
  budgetMs: number;
}

/** What the phase needs from the benchmark around it. */
export interface GroupFanoutContext {
  /** Start options of the other phases (raised limits, node flags, log file) for a server labelled `label`. */
  startOptions: (label: string) => DevStartOptions;
  stopTimeoutMs: number;
  progress: (text: string) => void;
  setPhase: (text: string) => void;
}

/** The idle run's activity threshold: far above what a connection (2) or a send (3) scores. */
const IDLE_SCORE_THRESHOLD = 100;
/** Messages in the offline run, sent one at a time; the first one runs on a cold server. */
const OFFLINE_MESSAGES = 4;
/** Share of the members connected in the offline run (1,000 of 10,000). */
const OFFLINE_RUN_ONLINE_SHARE = 0.1;
const MEMBERS_PER_FRAME = 256;
const STALL_MS = 15_000;
/**
 * How often the offline run reads the server's counters while it waits: a read costs the
 * server about a millisecond, and one sent during the fan-out is answered right after it.
 */
const METRICS_POLL_MS = 5;
const OWNER = "owner";

// ---- figures ----------------------------------------------------------------------

/** The group fan-out's percentiles: without p95. */
export type Percentiles = Omit<AllPercentiles, "p95">;

/** Nearest-rank percentiles of the samples taken (NaN marks a missing one). */
function percentiles(values: ArrayLike<number>): Percentiles | null {
  const p = allPercentiles(values);
  return p === null ? null : { samples: p.samples, p50: p.p50, p99: p.p99, max: p.max };
}

/** CPU and event-loop delay of the server (from the probe) and of this process over one measured stretch. */
export interface Load {
  wallMs: number;
  /** CPU time used (all threads): less sensitive to other processes on the machine than the rates. */
  serverCpuMs: number;
  benchCpuMs: number;
  serverCpuPercent: number;
  serverLoopDelayMs: ProbeReply["loopDelayMs"];
  /** The longest the server's event loop was blocked (no 5 ms timer ran). */
  serverLongestStallMs: number;
  /** This process: it parses every frame the N clients receive. */
  benchCpuPercent: number;
  benchLoopDelayMs: { p50: number; p99: number; max: number };
  /**
   * Time the server's and this process's main threads were ready to run but waited for a
   * CPU, in percent of the wall time (/proc/<pid>/schedstat; null where unavailable): other
   * processes on the machine taking the CPUs show here.
   */
  serverCpuWaitPercent: number | null;
  benchCpuWaitPercent: number | null;
  /** The machine's 1-minute load average at the end: other processes share the CPUs. */
  loadAverage1m: number;
}

/** Nanoseconds a process's main thread ran and waited to run, from /proc/<pid>/schedstat. */
function schedstat(pid: number | "self"): { runNs: number; waitNs: number } | null {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(/\s+/).map(Number);
    return run === undefined || wait === undefined || Number.isNaN(run) || Number.isNaN(wait) ? null : { runNs: run, waitNs: wait };
  } catch {
    return null;
  }
}

function waitPercent(before: { waitNs: number } | null, after: { waitNs: number } | null, wallMs: number): number | null {
  return before === null || after === null || wallMs <= 0 ? null : Math.round((after.waitNs - before.waitNs) / 1e4 / wallMs);
}

/** Starts measuring the load; the returned function ends the measurement. */
async function measureLoad(server: CliProcess): Promise<() => Promise<Load>> {
  const before = await server.probe({ resetLoopDelay: true });
  const benchLoop = monitorEventLoopDelay({ resolution: 5 });
  benchLoop.enable();
  const benchBefore = process.cpuUsage();
  const serverSchedBefore = schedstat(server.pid);
  const benchSchedBefore = schedstat("self");
  const start = performance.now();
  return async () => {
    const wallMs = performance.now() - start;
    const bench = process.cpuUsage(benchBefore);
    const serverSchedAfter = schedstat(server.pid);
    const benchSchedAfter = schedstat("self");
    benchLoop.disable();
    const after = await server.probe();
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
    const serverUs = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
    return {
      wallMs: round2(wallMs),
      serverCpuMs: Math.round(serverUs / 1000),
      benchCpuMs: Math.round((bench.user + bench.system) / 1000),
      serverCpuPercent: wallMs > 0 ? Math.round(serverUs / 10 / wallMs) : 0,
      serverLoopDelayMs: after.loopDelayMs,
      serverLongestStallMs: after.longestStallMs,
      benchCpuPercent: wallMs > 0 ? Math.round((bench.user + bench.system) / 10 / wallMs) : 0,
      benchLoopDelayMs: { p50: ms(benchLoop.percentile(50)), p99: ms(benchLoop.percentile(99)), max: ms(benchLoop.max) },
      serverCpuWaitPercent: waitPercent(serverSchedBefore, serverSchedAfter, wallMs),
      benchCpuWaitPercent: waitPercent(benchSchedBefore, benchSchedAfter, wallMs),
      loadAverage1m: round2(loadavg()[0] ?? NaN),
    };
  };
}

/** Counters and histogram sums from the server's /metrics, for the figures the server measures itself. */
function scrapeMetrics(httpUrl: string): Promise<Record<string, number>> {
  const wanted = /^(parley_group_deliveries_total|parley_group_delivery_delay_seconds_(sum|count)|parley_notifications_total|parley_gateway_connections$|parley_gateway_disconnects_total)/;
  return readMetrics(httpUrl, (series) => wanted.test(series), 10_000);
}

function metric(figures: Record<string, number>, name: string): number {
  return figures[name] ?? 0;
}

/** Mean of a histogram between two scrapes, in milliseconds; null when nothing was observed. */
function histogramMeanMs(before: Record<string, number>, after: Record<string, number>, series: string, labels: string): number | null {
  const count = metric(after, `${series}_count${labels}`) - metric(before, `${series}_count${labels}`);
  const sum = metric(after, `${series}_sum${labels}`) - metric(before, `${series}_sum${labels}`);
  return count > 0 ? round2((sum / count) * 1000) : null;
}

// ---- deliveries -----------------------------------------------------------------------

type Tier = "realtime" | "batched";

/**
 * Counts the group messages of one measured run as the members' clients receive them,
 * per message (by its clientMessageId, `prefix` + index): how many members have it, and
 * when the first and the last got it.
 */
class DeliveryRecorder {
  readonly sentAt: Float64Array;
  readonly firstAt: Float64Array;
  readonly lastAt: Float64Array;
  readonly count: Uint32Array;
  delivered = 0;
  lastDeliveryAt = 0;
  readonly frames: Record<Tier, number> = { realtime: 0, batched: 0 };
  readonly deliveredByTier: Record<Tier, number> = { realtime: 0, batched: 0 };
  /** Per batched frame: arrival − send of the earliest message in it. */
  readonly batchDelays: number[] = [];
  firstBatchAt = NaN;
  lastBatchAt = NaN;
  /** Sum over deliveries of (arrival − the server's sentAt), wall clock, for the mean store → receive time. */
  private storedToReceivedSum = 0;

  constructor(
    readonly prefix: string,
    readonly messages: number,
    /** Members that should receive each message. */
    readonly perMessage: number,
  ) {
    this.sentAt = new Float64Array(messages).fill(NaN);
    this.firstAt = new Float64Array(messages).fill(NaN);
    this.lastAt = new Float64Array(messages).fill(NaN);
    this.count = new Uint32Array(messages);
  }

  get expected(): number {
    return this.messages * this.perMessage;
  }

  get complete(): boolean {
    return this.delivered >= this.expected;
  }

  /** Whether message `i` reached every member it should. */
  reachedAll(i: number): boolean {
    return (this.count[i] ?? 0) >= this.perMessage;
  }

  onFrame(messages: readonly Message[], tier: Tier): void {
    const now = performance.now();
    const wallNow = Date.now();
    let earliestSend = Infinity;
    let counted = 0;
    for (const message of messages) {
      if (!message.clientMessageId.startsWith(this.prefix)) continue;
      const i = Number(message.clientMessageId.slice(this.prefix.length));
      if (!Number.isInteger(i) || i < 0 || i >= this.messages) continue;
      this.count[i] = (this.count[i] ?? 0) + 1;
      if (Number.isNaN(this.firstAt[i] ?? 0)) this.firstAt[i] = now;
      this.lastAt[i] = now;
      earliestSend = Math.min(earliestSend, this.sentAt[i] ?? NaN);
      this.storedToReceivedSum += wallNow - Date.parse(message.sentAt);
      counted += 1;
    }
    if (counted === 0) return;
    this.delivered += counted;
    this.deliveredByTier[tier] += counted;
    this.frames[tier] += 1;
    this.lastDeliveryAt = now;
    if (tier === "batched") {
      this.batchDelays.push(now - earliestSend);
      if (Number.isNaN(this.firstBatchAt)) this.firstBatchAt = now;
      this.lastBatchAt = now;
    }
  }

  get storedToReceivedMeanMs(): number | null {
    return this.delivered > 0 ? round2(this.storedToReceivedSum / this.delivered) : null;
  }

  /** Per message: last delivery − send, for messages that reached every member. */
  reachAllMs(): Float64Array {
    return Float64Array.from({ length: this.messages }, (_, i) => (this.reachedAll(i) ? (this.lastAt[i] ?? NaN) - (this.sentAt[i] ?? NaN) : NaN));
  }

  /** Per message: last delivery − first delivery. */
  spreadMs(): Float64Array {
    return Float64Array.from({ length: this.messages }, (_, i) => (this.reachedAll(i) ? (this.lastAt[i] ?? NaN) - (this.firstAt[i] ?? NaN) : NaN));
  }
}

/** The members' clients, with one listener each that feeds whichever recorder is current. */
class Members {
  readonly clients: ParleyClient[] = [];
  recorder: DeliveryRecorder | null = null;
  unexpectedCloses = 0;
  failed = 0;
  firstFailure: string | null = null;
  connectMs = 0;
  private closing = false;

  constructor(
    private readonly websocketUrl: string,
    private readonly tokens: TokenAuthority,
  ) {}

  async connect(userId: string): Promise<ParleyClient> {
    const client = await openBenchClient(this.websocketUrl, await this.tokens.issue(userId, 3600));
    client.on("error", () => undefined);
    client.on("close", () => {
      if (!this.closing) this.unexpectedCloses += 1;
    });
    client.on("groupMessages", (messages, tier) => {
      this.recorder?.onFrame(messages, tier);
    });
    this.clients.push(client);
    return client;
  }

  /** Connects `userIds`, `batch` at a time; a failed connection is counted, not retried. */
  async connectAll(userIds: readonly string[], batch: number, server: CliProcess, deadline: Deadline, progress: (text: string) => void): Promise<void> {
    const started = performance.now();
    let lastReport = started;
    for (let first = 0; first < userIds.length; first += batch) {
      deadline.check("connecting members");
      const results = await Promise.allSettled(userIds.slice(first, first + batch).map((userId) => this.connect(userId)));
      for (const result of results) {
        if (result.status === "rejected") {
          this.failed += 1;
          this.firstFailure ??= result.reason instanceof Error ? result.reason.message : String(result.reason);
        }
      }
      if (!server.running) throw new Error(`the ${server.label} server died while members were connecting (${server.describeExit()})`);
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        progress(`  ${first + batch} of ${userIds.length} members connected`);
      }
    }
    this.connectMs += performance.now() - started;
  }

  async closeAll(): Promise<void> {
    this.closing = true;
    await Promise.race([Promise.all(this.clients.map((c) => c.close())), sleep(5_000)]);
  }
}

class Deadline {
  constructor(readonly at: number) {}

  get remainingMs(): number {
    return this.at - performance.now();
  }

  check(doing: string): void {
    if (this.remainingMs <= 0) throw new Error(`the group fan-out phase passed its time limit while ${doing}`);
  }
}

/** Waits until `done()`, giving up when `progressOf()` has not moved for `stallMs` or the phase deadline passes; returns whether it got there. */
function waitFor(done: () => boolean, progressOf: () => number, stallMs: number, deadline: Deadline): Promise<boolean> {
  return waitForProgress(done, progressOf, stallMs, deadline.at, 5);
}

/** The owner sends the recorder's messages back to back (pipelined, each acked by the server). */
function sendAll(owner: ParleyClient, groupId: string, recorder: DeliveryRecorder, text: string): Promise<SendOutcome> {
  const outcome: SendOutcome = { acked: 0, errors: 0, firstError: null, ackMs: new Float64Array(recorder.messages).fill(NaN) };
  const sends: Promise<void>[] = [];
  for (let i = 0; i < recorder.messages; i++) {
    const sentAt = performance.now();
    recorder.sentAt[i] = sentAt;
    sends.push(
      sendGroupMessage(owner, groupId, text, recorder.prefix + String(i)).then(
        () => {
          outcome.acked += 1;
          outcome.ackMs[i] = performance.now() - sentAt;
        },
        (error: unknown) => {
          outcome.errors += 1;
          outcome.firstError ??= error instanceof Error ? error.message : String(error);
        },
      ),
    );
  }
  return Promise.all(sends).then(() => outcome);
}

interface SendOutcome {
  acked: number;
  errors: number;
  firstError: string | null;
  ackMs: Float64Array;
}

// ---- one server with a group --------------------------------------------------------

export interface SetupFigures {
  label: string;
  /** Settings given to the server on top of the benchmark's. */
  env: Record<string, string>;
  groupMembers: number;
  groupCreateMs: number;
  connectedMembers: number;
  connectFailed: number;
  firstConnectFailure: string | null;
  connectMs: number;
  connectsPerSecond: number;
  unexpectedCloses: number;
  serverRssKiB: number | null;
  benchRssKiB: number;
  serverWarnLogs: number;
  serverErrorLogs: number;
  serverProblemLogs: string[];
}

interface Stage {
  server: CliProcess;
  httpUrl: string;
  owner: ParleyClient;
  groupId: string;
  members: Members;
  setup: SetupFigures;
}

/** Starts a server with `env`, creates the group of N members and connects `connected` of them (the owner first). */
async function stage(
  label: string,
  env: Record<string, string>,
  connected: number,
  options: GroupFanoutOptions,
  context: GroupFanoutContext,
  deadline: Deadline,
  run: (stage: Stage) => Promise<void>,
): Promise<SetupFigures> {
  context.setPhase(`group ${label}: starting the server`);
  const base = context.startOptions(`group-${label}`);
  const fullEnv = {
    ...base.env,
    PARLEY_MAX_CONNECTIONS: String(Math.max(Number(base.env.PARLEY_MAX_CONNECTIONS ?? 0), options.members + 100)),
    PARLEY_MAX_GROUP_MEMBERS: String(Math.max(10_000, options.members)),
    ...env,
  };
  const server = await CliProcess.dev({ ...base, env: fullEnv, logLevel: options.logLevel });
  const httpUrl = server.url;
  const members = new Members(server.websocketUrl, server.tokens());
  try {
    context.progress(`group ${label}: server pid ${server.pid}, ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ")}`);
    const owner = await members.connect(OWNER);

    context.setPhase(`group ${label}: creating the group`);
    const userIds = Array.from({ length: options.members - 1 }, (_, i) => `m${String(i).padStart(6, "0")}`);
    const createStarted = performance.now();
    const created = (await owner.request({ type: "group.create", name: "bench", members: userIds.slice(0, MEMBERS_PER_FRAME) })).group;
    for (let i = MEMBERS_PER_FRAME; i < userIds.length; i += MEMBERS_PER_FRAME) {
      deadline.check("creating the group");
      await owner.request({ type: "group.add", groupId: created.groupId, members: userIds.slice(i, i + MEMBERS_PER_FRAME) });
    }
    const group = (await owner.request({ type: "group.info", groupId: created.groupId })).group;
    const groupCreateMs = performance.now() - createStarted;
    if (group.memberCount !== options.members) throw new Error(`the group has ${group.memberCount} members, expected ${options.members}`);
    context.progress(`group ${label}: group of ${group.memberCount} created in ${Math.round(groupCreateMs)} ms; connecting ${connected - 1} members, ${options.connectBatch} at a time`);

    context.setPhase(`group ${label}: connecting members`);
    await members.connectAll(userIds.slice(0, connected - 1), options.connectBatch, server, deadline, context.progress);
    const opened = members.clients.length;
    context.progress(`group ${label}: ${opened} connections open (owner included, ${members.failed} failed) in ${Math.round(members.connectMs)} ms`);

    const setup: SetupFigures = {
      label,
      env,
      groupMembers: group.memberCount,
      groupCreateMs: Math.round(groupCreateMs),
      connectedMembers: opened,
      connectFailed: members.failed,
      firstConnectFailure: members.firstFailure,
      connectMs: Math.round(members.connectMs),
      connectsPerSecond: perSecond(opened - 1, members.connectMs),
      unexpectedCloses: 0,
      serverRssKiB: server.rssKiB(),
      benchRssKiB: kib(process.memoryUsage.rss()),
      serverWarnLogs: 0,
      serverErrorLogs: 0,
      serverProblemLogs: [],
    };
    await run({ server, httpUrl, owner, groupId: group.groupId, members, setup });
    setup.unexpectedCloses = members.unexpectedCloses;
    context.setPhase(`group ${label}: stopping the server`);
    await members.closeAll();
    await server.stop(context.stopTimeoutMs);
    setup.serverWarnLogs = server.warnCount;
    setup.serverErrorLogs = server.errorCount;
    setup.serverProblemLogs = server.problems.slice(0, 5);
    return setup;
  } finally {
    await server.stop(context.stopTimeoutMs);
    await members.closeAll();
  }
}

// ---- realtime ---------------------------------------------------------------------------

export interface FanoutRunFigures {
  messages: number;
  /** Connected members each message should reach (the owner's own connection included). */
  membersPerMessage: number;
  acked: number;
  sendErrors: number;
  firstSendError: string | null;
  expectedDeliveries: number;
  delivered: number;
  missing: number;
  /** First send to last delivery. */
  durationMs: number;
  /** Member deliveries (messages received, summed over clients) per second over durationMs. */
  deliveriesPerSecond: number;
  framesRealtime: number;
  framesBatched: number;
  /** Per message: send → the last member has it. */
  reachAllMs: Percentiles | null;
  /** Per message: first member has it → last member has it. */
  spreadMs: Percentiles | null;
  ackMs: Percentiles | null;
  /** Mean over deliveries of receipt − the server's sentAt (wall clock, ms resolution). */
  storedToReceivedMeanMs: number | null;
  /** The server's own mean of stored → handed to the gateway (parley_group_delivery_delay_seconds). */
  serverHandoverMeanMs: number | null;
  /** CPU time per member delivery: the server's, and this process's (receiving and parsing it). */
  serverCpuUsPerDelivery: number | null;
  benchCpuUsPerDelivery: number | null;
  load: Load;
}

export interface RealtimeFigures {
  setup: SetupFigures;
  /** One message to everyone before measuring, so the paths are compiled. */
  warmupReachAllMs: number | null;
  run: FanoutRunFigures | null;
}

/** One message to everyone, to compile the paths; returns its send → all members time. */
async function warmUp(stage: Stage, perMessage: number, text: string, stallMs: number, deadline: Deadline): Promise<number | null> {
  const recorder = new DeliveryRecorder("warm-", 1, perMessage);
  stage.members.recorder = recorder;
  const sent = sendAll(stage.owner, stage.groupId, recorder, text);
  await waitFor(() => recorder.complete, () => recorder.delivered, stallMs, deadline);
  await Promise.race([sent, sleep(1_000)]);
  stage.members.recorder = null;
  return recorder.reachedAll(0) ? round2((recorder.lastAt[0] ?? NaN) - (recorder.sentAt[0] ?? NaN)) : null;
}

async function realtimeRun(options: GroupFanoutOptions, context: GroupFanoutContext, deadline: Deadline): Promise<RealtimeFigures> {
  let warmupReachAllMs: number | null = null;
  let run: FanoutRunFigures | null = null;
  const text = benchText(options.textBytes);
  const setup = await stage("realtime", {}, options.members, options, context, deadline, async (s) => {
    const perMessage = s.members.clients.length;
    context.setPhase("group realtime: warm-up");
    warmupReachAllMs = await warmUp(s, perMessage, text, STALL_MS, deadline);
    context.setPhase("group realtime: fan-out");
    context.progress(`group realtime: warm-up message reached ${perMessage} members in ${String(warmupReachAllMs)} ms; now ${options.messages} messages back to back`);
    run = await measureFanout(s, new DeliveryRecorder("rt-", options.messages, perMessage), text, STALL_MS, deadline);
    context.progress(`group realtime: ${run.deliveriesPerSecond} deliveries/s; reach-all p50 ${String(run.reachAllMs?.p50)} ms`);
  });
  return { setup, warmupReachAllMs, run };
}

// ---- batched ------------------------------------------------------------------------------

export interface BatchedFigures {
  setup: SetupFigures;
  idleBatchDelayMs: number;
  run: FanoutRunFigures | null;
  /** First batched frame → last batched frame: how long the server takes to push every batch. */
  releaseMs: number | null;
  /** Batched deliveries (messages) per second over releaseMs. */
  releaseDeliveriesPerSecond: number | null;
  /** Per batched frame: arrival − send of the earliest message in it. */
  observedBatchDelayMs: Percentiles | null;
  /** Batched frames per idle member (1 when every message of the run fit in one batch). */
  framesPerIdleMember: number | null;
}

async function batchedRun(options: GroupFanoutOptions, context: GroupFanoutContext, deadline: Deadline): Promise<BatchedFigures> {
  const env = { PARLEY_ACTIVE_SCORE_THRESHOLD: String(IDLE_SCORE_THRESHOLD), PARLEY_IDLE_BATCH_DELAY_MS: String(options.idleBatchDelayMs) };
  const text = benchText(options.textBytes);
  const stallMs = STALL_MS + options.idleBatchDelayMs;
  const figures: Omit<BatchedFigures, "setup"> = { idleBatchDelayMs: options.idleBatchDelayMs, run: null, releaseMs: null, releaseDeliveriesPerSecond: null, observedBatchDelayMs: null, framesPerIdleMember: null };
  const setup = await stage("batched", env, options.members, options, context, deadline, async (s) => {
    const perMessage = s.members.clients.length;
    context.setPhase("group batched: warm-up");
    const warm = await warmUp(s, perMessage, text, stallMs, deadline);
    context.progress(`group batched: warm-up message reached ${perMessage} members in ${String(warm)} ms; now ${options.messages} messages back to back`);
    context.setPhase("group batched: fan-out");
    const recorder = new DeliveryRecorder("bt-", options.messages, perMessage);
    const run = await measureFanout(s, recorder, text, stallMs, deadline);
    figures.run = run;
    const releaseMs = recorder.lastBatchAt - recorder.firstBatchAt;
    figures.releaseMs = Number.isNaN(releaseMs) ? null : round2(releaseMs);
    figures.releaseDeliveriesPerSecond = Number.isNaN(releaseMs) ? null : perSecond(recorder.deliveredByTier.batched, releaseMs);
    figures.observedBatchDelayMs = percentiles(recorder.batchDelays);
    figures.framesPerIdleMember = perMessage > 1 ? round2(recorder.frames.batched / (perMessage - 1)) : null;
    context.progress(`group batched: ${run.deliveriesPerSecond} deliveries/s overall, batches released over ${String(figures.releaseMs)} ms`);
  });
  return { setup, ...figures };
}

/** Sends the recorder's messages and waits for every member to have them. */
async function measureFanout(stage: Stage, recorder: DeliveryRecorder, text: string, stallMs: number, deadline: Deadline): Promise<FanoutRunFigures> {
  stage.members.recorder = recorder;
  const metricsBefore = await scrapeMetrics(stage.httpUrl);
  const stopLoad = await measureLoad(stage.server);
  const start = performance.now();
  const sent = sendAll(stage.owner, stage.groupId, recorder, text);
  await waitFor(() => recorder.complete, () => recorder.delivered, stallMs, deadline);
  const load = await stopLoad();
  const outcome = await Promise.race([sent, sleep(Math.max(0, Math.min(stallMs, deadline.remainingMs))).then(() => null)]);
  stage.members.recorder = null;
  const metricsAfter = await scrapeMetrics(stage.httpUrl);
  const durationMs = recorder.delivered > 0 ? recorder.lastDeliveryAt - start : 0;
  const tier = recorder.frames.batched > 0 ? "batched" : "realtime";
  return {
    messages: recorder.messages,
    membersPerMessage: recorder.perMessage,
    acked: outcome?.acked ?? 0,
    sendErrors: outcome?.errors ?? 0,
    firstSendError: outcome === null ? "acks did not all arrive" : outcome.firstError,
    expectedDeliveries: recorder.expected,
    delivered: recorder.delivered,
    missing: recorder.expected - recorder.delivered,
    durationMs: round2(durationMs),
    deliveriesPerSecond: perSecond(recorder.delivered, durationMs),
    framesRealtime: recorder.frames.realtime,
    framesBatched: recorder.frames.batched,
    reachAllMs: percentiles(recorder.reachAllMs()),
    spreadMs: percentiles(recorder.spreadMs()),
    ackMs: outcome === null ? null : percentiles(outcome.ackMs),
    storedToReceivedMeanMs: recorder.storedToReceivedMeanMs,
    serverHandoverMeanMs: histogramMeanMs(metricsBefore, metricsAfter, "parley_group_delivery_delay_seconds", `{tier="${tier}"}`),
    serverCpuUsPerDelivery: recorder.delivered > 0 ? round2((load.serverCpuMs * 1000) / recorder.delivered) : null,
    benchCpuUsPerDelivery: recorder.delivered > 0 ? round2((load.benchCpuMs * 1000) / recorder.delivered) : null,
    load,
  };
}

// ---- offline --------------------------------------------------------------------------------

export interface OfflineMessageFigures {
  /** Send → the last connected member has it. */
  reachOnlineMs: number | null;
  /** Send → the server counted a notification request for every offline member (fan-out done). */
  requestsPublishedMs: number | null;
  /** Send → the notifier handled every request (sent, rate limited or failed). */
  notificationsHandledMs: number | null;
  notificationsSent: number;
  load: Load;
}

export interface OfflineFigures {
  setup: SetupFigures;
  offlineMembers: number;
  /** Each message on its own, waiting for the previous one's fan-out; the first ran on a cold server. */
  messages: OfflineMessageFigures[];
  /** Over the messages after the first. */
  warmNotificationsHandledMs: Percentiles | null;
  warmReachOnlineMs: Percentiles | null;
  /** Notification requests handled per second, warm messages (offline members / notificationsHandledMs). */
  notificationsPerSecond: number | null;
  /** The server's own mean of stored → notification request published (parley_group_delivery_delay_seconds{tier="offline"}). */
  serverOfflineHandoverMeanMs: number | null;
}

async function offlineRun(options: GroupFanoutOptions, context: GroupFanoutContext, deadline: Deadline): Promise<OfflineFigures> {
  const connected = Math.max(2, Math.round(options.members * OFFLINE_RUN_ONLINE_SHARE));
  const offlineMembers = options.members - connected;
  // Every message notifies every offline member (the default limit is one per user per minute).
  const env = { PARLEY_NOTIFY_MIN_INTERVAL_MS: "0" };
  const text = benchText(options.textBytes);
  const results: OfflineMessageFigures[] = [];
  let serverOfflineHandoverMeanMs: number | null = null;
  const setup = await stage("offline", env, connected, options, context, deadline, async (s) => {
    const perMessage = s.members.clients.length;
    const metricsStart = await scrapeMetrics(s.httpUrl);
    for (let k = 0; k < OFFLINE_MESSAGES; k++) {
      context.setPhase(`group offline: message ${k + 1} of ${OFFLINE_MESSAGES}`);
      const recorder = new DeliveryRecorder(`off${k}-`, 1, perMessage);
      s.members.recorder = recorder;
      const before = await scrapeMetrics(s.httpUrl);
      const requestsBefore = metric(before, 'parley_group_deliveries_total{tier="offline"}');
      const handledBefore = notificationsHandled(before);
      let requestsAt = NaN;
      let handledAt = NaN;
      let handled = 0;
      let sentCount = 0;
      const stopLoad = await measureLoad(s.server);
      const start = performance.now();
      const sent = sendAll(s.owner, s.groupId, recorder, text);
      const done = (): boolean => recorder.complete && !Number.isNaN(handledAt);
      const poll = (async () => {
        while (!done() && deadline.remainingMs > 0) {
          const now = await scrapeMetrics(s.httpUrl);
          const at = performance.now();
          if (Number.isNaN(requestsAt) && metric(now, 'parley_group_deliveries_total{tier="offline"}') - requestsBefore >= offlineMembers) requestsAt = at;
          handled = notificationsHandled(now) - handledBefore;
          sentCount = metric(now, 'parley_notifications_total{outcome="sent"}') - metric(before, 'parley_notifications_total{outcome="sent"}');
          if (Number.isNaN(handledAt) && handled >= offlineMembers) handledAt = at;
          await sleep(METRICS_POLL_MS);
        }
      })();
      await waitFor(done, () => recorder.delivered + handled, STALL_MS, deadline);
      const load = await stopLoad();
      await Promise.race([sent, sleep(1_000)]);
      s.members.recorder = null;
      await Promise.race([poll, sleep(1_000)]);
      results.push({
        reachOnlineMs: recorder.reachedAll(0) ? round2((recorder.lastAt[0] ?? NaN) - start) : null,
        requestsPublishedMs: Number.isNaN(requestsAt) ? null : round2(requestsAt - start),
        notificationsHandledMs: Number.isNaN(handledAt) ? null : round2(handledAt - start),
        notificationsSent: sentCount,
        load,
      });
      const last = results[results.length - 1];
      context.progress(`group offline: message ${k + 1}: online members in ${String(last?.reachOnlineMs)} ms, ${offlineMembers} notifications handled in ${String(last?.notificationsHandledMs)} ms`);
    }
    serverOfflineHandoverMeanMs = histogramMeanMs(metricsStart, await scrapeMetrics(s.httpUrl), "parley_group_delivery_delay_seconds", '{tier="offline"}');
  });
  const warm = results.slice(1);
  const warmHandled = percentiles(warm.map((r) => r.notificationsHandledMs ?? NaN));
  return {
    setup,
    offlineMembers,
    messages: results,
    warmNotificationsHandledMs: warmHandled,
    warmReachOnlineMs: percentiles(warm.map((r) => r.reachOnlineMs ?? NaN)),
    notificationsPerSecond: warmHandled === null ? null : perSecond(offlineMembers, warmHandled.p50),
    serverOfflineHandoverMeanMs,
  };
}

function notificationsHandled(figures: Record<string, number>): number {
  return ["sent", "rate_limited", "failed"].reduce((sum, outcome) => sum + metric(figures, `parley_notifications_total{outcome="${outcome}"}`), 0);
}

// ---- the phase ------------------------------------------------------------------------------

export interface GroupFanoutReport {
  members: number;
  messages: number;
  textBytes: number;
  serverLogLevel: string;
  realtime: RealtimeFigures | null;
  batched: BatchedFigures | null;
  offline: OfflineFigures | null;
  /** Why a run is missing, when one failed; the others still ran. */
  failures: string[];
  totalMs: number;
}

export async function groupFanoutBenchmark(options: GroupFanoutOptions, context: GroupFanoutContext): Promise<GroupFanoutReport> {
  const started = performance.now();
  const deadline = new Deadline(started + options.budgetMs);
  const failures: string[] = [];
  const attempt = async <T>(name: string, run: () => Promise<T>): Promise<T | null> => {
    if (deadline.remainingMs <= 0) {
      failures.push(`${name}: skipped, the phase's time limit had passed`);
      return null;
    }
    try {
      return await run();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      context.progress(`group ${name} failed: ${message}`);
      failures.push(`${name}: ${message}`);
      return null;
    }
  };
  context.progress(`group fan-out: ${options.members} members, ${options.messages} messages, server log level ${options.logLevel}, time limit ${Math.round(options.budgetMs / 1000)} s`);
  const realtime = await attempt("realtime", () => realtimeRun(options, context, deadline));
  const batched = await attempt("batched", () => batchedRun(options, context, deadline));
  const offline = await attempt("offline", () => offlineRun(options, context, deadline));
  return {
    members: options.members,
    messages: options.messages,
    textBytes: options.textBytes,
    serverLogLevel: options.logLevel,
    realtime,
    batched,
    offline,
    failures,
    totalMs: Math.round(performance.now() - started),
  };
}

// ---- report -------------------------------------------------------------------------------------

function ms(value: number | null | undefined): string {
  return value === null || value === undefined ? "n/a" : `${Math.round(value)} ms`;
}

function describePercentiles(p: Percentiles | null): string {
  return p === null ? "no samples" : `p50 ${Math.round(p.p50)} ms, p99 ${Math.round(p.p99)} ms, max ${Math.round(p.max)} ms (${p.samples} samples)`;
}

function describeLoad(load: Load, short = false): string {
  const waited = (percent: number | null): string => (percent === null ? "" : `, waited for a CPU ${percent}%`);
  if (short) return `server CPU ${load.serverCpuMs} ms (${load.serverCpuPercent}% of a core${waited(load.serverCpuWaitPercent)}), longest event-loop block ${Math.round(load.serverLongestStallMs)} ms; benchmark CPU ${load.benchCpuMs} ms`;
  return (
    `server CPU ${load.serverCpuPercent}% of a core${waited(load.serverCpuWaitPercent)}, event-loop delay p50 ${load.serverLoopDelayMs.p50} ms, p99 ${load.serverLoopDelayMs.p99} ms, longest block ${Math.round(load.serverLongestStallMs)} ms; ` +
    `benchmark (all clients) CPU ${load.benchCpuPercent}%${waited(load.benchCpuWaitPercent)}, event-loop delay p99 ${load.benchLoopDelayMs.p99} ms; load average ${load.loadAverage1m}`
  );
}

function describeSetup(s: SetupFigures): string {
  return (
    `  setup: group of ${s.groupMembers} created in ${s.groupCreateMs} ms; ${s.connectedMembers} connected in ${s.connectMs} ms (${s.connectsPerSecond}/s)` +
    `${s.connectFailed > 0 ? `, ${s.connectFailed} FAILED: ${s.firstConnectFailure ?? ""}` : ""}${s.unexpectedCloses > 0 ? `, ${s.unexpectedCloses} closed by the server` : ""}; ` +
    `RSS server ${s.serverRssKiB === null ? "n/a" : `${Math.round(s.serverRssKiB / 1024)} MiB`}, benchmark ${Math.round(s.benchRssKiB / 1024)} MiB`
  );
}

/** `batched`: the owner's own copy comes in real time, so first → last member says nothing there. */
function describeRun(r: FanoutRunFigures, batched = false): string[] {
  return [
    `  deliveries:  ${r.deliveriesPerSecond} member deliveries/s (${r.delivered} of ${r.expectedDeliveries} in ${Math.round(r.durationMs)} ms, first send → last delivery${r.missing > 0 ? `; ${r.missing} MISSING` : ""})`,
    `  send → all ${r.membersPerMessage} members have it (waits behind the messages sent before it): ${describePercentiles(r.reachAllMs)}`,
    ...(batched ? [] : [`  first → last member of one message (its own fan-out): ${describePercentiles(r.spreadMs)}`]),
    `  send → ack: ${describePercentiles(r.ackMs)}${r.sendErrors > 0 ? `; ${r.sendErrors} send errors: ${r.firstSendError ?? ""}` : ""}`,
    `  stored → received, mean: ${ms(r.storedToReceivedMeanMs)} at the clients, ${ms(r.serverHandoverMeanMs)} to the server's hand-over (its own histogram)`,
    `  ${describeLoad(r.load)}`,
    `  CPU per member delivery: server ${String(r.serverCpuUsPerDelivery)} µs, benchmark clients ${String(r.benchCpuUsPerDelivery)} µs`,
  ];
}

function describeLogs(s: SetupFigures): string[] {
  if (s.serverWarnLogs + s.serverErrorLogs === 0) return [];
  return [`  the server logged ${s.serverWarnLogs} warnings and ${s.serverErrorLogs} errors, first ones:`, ...s.serverProblemLogs.map((l) => `    ${l}`)];
}

export function describeGroupFanout(report: GroupFanoutReport): string[] {
  const lines: string[] = [];
  const { realtime, batched, offline } = report;
  if (realtime) {
    lines.push(`Group fan-out, all ${realtime.setup.connectedMembers} members online and active (realtime), ${report.messages} messages back to back, ${report.textBytes}-byte text`);
    lines.push(describeSetup(realtime.setup), `  warm-up message reached everyone in ${ms(realtime.warmupReachAllMs)}`);
    if (realtime.run) lines.push(...describeRun(realtime.run));
    lines.push(...describeLogs(realtime.setup), "");
  }
  if (batched) {
    lines.push(`Group fan-out, all ${batched.setup.connectedMembers} members online but idle (batched, PARLEY_ACTIVE_SCORE_THRESHOLD=${IDLE_SCORE_THRESHOLD}, PARLEY_IDLE_BATCH_DELAY_MS=${batched.idleBatchDelayMs})`);
    lines.push(describeSetup(batched.setup));
    if (batched.run) {
      lines.push(...describeRun(batched.run, true));
      lines.push(
        `  batched frames: ${batched.run.framesBatched} (${String(batched.framesPerIdleMember)} per idle member); released over ${ms(batched.releaseMs)}: ${String(batched.releaseDeliveriesPerSecond)} batched deliveries/s while releasing`,
        `  observed batch delay (send of the earliest message in a batch → its arrival): ${describePercentiles(batched.observedBatchDelayMs)}`,
      );
    }
    lines.push(...describeLogs(batched.setup), "");
  }
  if (offline) {
    lines.push(`Group fan-out, ${offline.setup.connectedMembers} of ${offline.setup.groupMembers} members online, ${offline.offlineMembers} offline (notification per offline member per message, log sink, server log level ${report.serverLogLevel})`);
    lines.push(describeSetup(offline.setup));
    offline.messages.forEach((m, k) => {
      const notified =
        m.requestsPublishedMs === m.notificationsHandledMs
          ? `${offline.offlineMembers} notification requests published and handled after ${ms(m.notificationsHandledMs)}`
          : `${offline.offlineMembers} notification requests published after ${ms(m.requestsPublishedMs)}, handled after ${ms(m.notificationsHandledMs)}`;
      lines.push(
        `  message ${k + 1}${k === 0 ? " (cold)" : ""}: the ${offline.setup.connectedMembers} online members have it after ${ms(m.reachOnlineMs)}; ${notified} (${m.notificationsSent} sent); ${describeLoad(m.load, true)}`,
      );
    });
    lines.push(
      `  one message's fan-out, warm (send → every notification handled): ${describePercentiles(offline.warmNotificationsHandledMs)}, ${String(offline.notificationsPerSecond)} notifications/s; online members: ${describePercentiles(offline.warmReachOnlineMs)}`,
      `  server's own mean stored → notification request: ${ms(offline.serverOfflineHandoverMeanMs)}`,
    );
    lines.push(...describeLogs(offline.setup), "");
  }
  for (const failure of report.failures) lines.push(`  group fan-out ${failure}`);
  if (report.failures.length > 0) lines.push("");
  return lines;
}
