#!/usr/bin/env node
/**
 * Parley's benchmark of the production shape: `npm run bench:real`. Starts `parley serve`
 * processes (two gateways, chat, groups, presence) on the real Kafka, Cassandra, Redis
 * and S3 that `hack/infra.sh up` runs on 127.0.0.1, under a cluster name, keyspace and
 * bucket of their own, and drives them with ParleyClient from this process:
 *
 * - 1:1 messages alice (gateway A) → bob (gateway B) with a window of unacked sends in
 *   flight: acks/s, deliveries/s, latency; the same with one send at a time, both ways at
 *   once, and spread over several pairs of users;
 * - group messages fanned out to a group whose members are connected across both
 *   gateways, from the owner alone and from several members at once: deliveries/s and
 *   latency per delivery.
 *
 * Alongside each figure it records CPU per process (ours and the back ends', from /proc),
 * the machine's total and its busiest other processes, the event-loop delay of each
 * service, the backlog in front of each service's Kafka consumer group, the commands Redis
 * ran and the load average, so that a figure comes with where the time went. Prints
 * a short report, then one JSON line. Afterwards it stops the processes with SIGTERM and
 * removes what the run created (keyspace, topics and consumer groups, bucket, Redis keys).
 * It fails only when it cannot measure (a process does not start or dies, the run passes
 * its time limit), never because of a number.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import kafkajs from "kafkajs";
import type { Admin } from "kafkajs";
import WebSocket from "ws";
import { connectCassandra } from "../adapters/cassandra/cassandra-options.js";
import { deleteGroupsWithPrefix, deleteTopicsWithPrefix } from "../adapters/kafka/topic-admin.js";
import { createS3Client } from "../adapters/s3/s3-blob-store.js";
import { TokenAuthority } from "../auth/tokens.js";
import { expectReply, ParleyClient } from "../client/parley-client.js";
import type { InboxEvent, Message } from "../protocol/frames.js";
import type { ProbeReply } from "./probe.js";
import { readInfraEndpoint } from "./infra-endpoints.js";
import { allProcessesCpuMs, cpuMsOf, machineCpuTicks, pidListeningOn } from "./process-stats.js";
import { killAllServeProcesses, ServeProcess, type ServeStopResult } from "./serve-process.js";
import { benchText, percentiles, perSecond, round2, type Percentiles } from "./stats.js";

const { Kafka, logLevel: KafkaLogLevel } = kafkajs;

interface Options {
  messages: number;
  window: number;
  serialMessages: number;
  twoWay: boolean;
  pairs: number;
  groupMembers: number;
  groupMessages: number;
  groupWindow: number;
  groupSenders: number;
  chatProcesses: number;
  textBytes: number;
  timeout: number;
  serverNodeOptions?: string;
  serverLog?: string;
}

const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const CLEANUP_TIMEOUT_MS = 90_000;
/** After a failure or a timeout: how long the processes get after SIGTERM before SIGKILL. */
const ABORT_STOP_MS = 5_000;
/** A run whose deliveries make no progress for this long is reported as incomplete. */
const DELIVERY_STALL_MS = 20_000;
const WARMUP_MESSAGES = 200;
const GROUP_WARMUP_MESSAGES = 20;
/** Members named per group.create / group.add frame: each costs the groups service a few Paxos rounds, and the gateway gives up after 10 s. */
const GROUP_MEMBERS_PER_FRAME = 50;
const CONNECT_BATCH = 50;
/** How often the consumer groups' backlog is sampled during a phase. */
const LAG_SAMPLE_MS = 250;
/** The idle phase before the runs: every process's baseline CPU (consumers polling, heartbeats). */
const IDLE_MS = 3_000;
const TOKEN_TTL_SECONDS = 3600;

/** What the run is doing now, for the timeout message. */
let phase = "starting";

function progress(text: string): void {
  process.stderr.write(`[bench:real ${new Date().toISOString().slice(11, 23)}] ${text}\n`);
}

interface Endpoints {
  kafkaBrokers: string;
  cassandraContactPoints: string;
  cassandraDc: string;
  redisUrl: string;
  s3Endpoint: string;
  s3AccessKey: string;
  s3SecretKey: string;
  s3Region: string;
}

/** How to start the back ends, for the message when an endpoint is missing. */
const BACK_ENDS = "back ends with 'hack/infra.sh up redis s3proxy kafka cassandra'";

/**
 * The endpoints of the back ends `hack/infra.sh up` started: from the environment, else
 * from $PARLEY_INFRA_DIR/endpoints.env, as the tests read them (infra-endpoints.ts).
 */
function readEndpoints(): Endpoints {
  return {
    kafkaBrokers: readInfraEndpoint("PARLEY_TEST_KAFKA_BROKERS", BACK_ENDS),
    cassandraContactPoints: readInfraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS", BACK_ENDS),
    cassandraDc: readInfraEndpoint("PARLEY_TEST_CASSANDRA_DC", BACK_ENDS),
    redisUrl: readInfraEndpoint("PARLEY_TEST_REDIS_URL", BACK_ENDS),
    s3Endpoint: readInfraEndpoint("PARLEY_TEST_S3_ENDPOINT", BACK_ENDS),
    s3AccessKey: readInfraEndpoint("PARLEY_TEST_S3_ACCESS_KEY", BACK_ENDS),
    s3SecretKey: readInfraEndpoint("PARLEY_TEST_S3_SECRET_KEY", BACK_ENDS),
    s3Region: readInfraEndpoint("PARLEY_TEST_S3_REGION", BACK_ENDS),
  };
}

/** What this run creates on the shared servers, all named after one random id. */
interface RunNames {
  id: string;
  cluster: string;
  keyspace: string;
  bucket: string;
  gatewayA: string;
  gatewayB: string;
}

function runNames(): RunNames {
  const id = randomBytes(4).toString("hex");
  return {
    id,
    cluster: `bench-${id}`,
    keyspace: `parley_bench_${id}`,
    bucket: `parley-bench-${id}`,
    gatewayA: `gw-a-${id}`,
    gatewayB: `gw-b-${id}`,
  };
}

/** The settings of every process, as the multi-process end-to-end test sets them, with rate limits out of the way. */
function serverEnv(endpoints: Endpoints, names: RunNames, jwtSecret: string): Record<string, string> {
  return {
    PARLEY_CLUSTER: names.cluster,
    PARLEY_JWT_SECRET: jwtSecret,
    PARLEY_KAFKA_BROKERS: endpoints.kafkaBrokers,
    PARLEY_KAFKA_PARTITIONS: "3",
    PARLEY_KAFKA_REPLICATION_FACTOR: "1",
    PARLEY_CASSANDRA_CONTACT_POINTS: endpoints.cassandraContactPoints,
    PARLEY_CASSANDRA_LOCAL_DC: endpoints.cassandraDc,
    PARLEY_CASSANDRA_KEYSPACE: names.keyspace,
    PARLEY_CASSANDRA_REPLICATION: "1",
    PARLEY_REDIS_URL: endpoints.redisUrl,
    PARLEY_S3_ENDPOINT: endpoints.s3Endpoint,
    PARLEY_S3_ACCESS_KEY: endpoints.s3AccessKey,
    PARLEY_S3_SECRET_KEY: endpoints.s3SecretKey,
    PARLEY_S3_REGION: endpoints.s3Region,
    PARLEY_S3_BUCKET: names.bucket,
    PARLEY_SHUTDOWN_GRACE_MS: "2000",
    PARLEY_FRAMES_PER_SECOND: "100000",
    PARLEY_FRAME_BURST: "100000",
    PARLEY_MAX_CONNECTIONS: "1000000",
  };
}

/** The settings reported (the secrets left out). */
function reportedEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => name !== "PARLEY_JWT_SECRET" && name !== "PARLEY_S3_SECRET_KEY"));
}

// ---- figures ----------------------------------------------------------------------

// ---- where the queues are -----------------------------------------------------------

interface LagTarget {
  label: string;
  groupId: string;
  /** The group's topic, or the prefix of its topics. */
  topic: string;
  prefix: boolean;
}

interface LagFigures {
  samples: number;
  /** Events published but not yet committed by the group, summed over its partitions. */
  max: number;
  mean: number;
}

/** The consumer groups of the run's services, as KafkaEventBus names them (`<prefix><group>@<topic>`). */
function lagTargets(cluster: string): LagTarget[] {
  const p = `parley.${cluster}.`;
  const target = (label: string, group: string, topic: string, prefix = false): LagTarget => ({
    label,
    groupId: `${p}${group}@${p}${topic}${prefix ? "*" : ""}`,
    topic: `${p}${topic}`,
    prefix,
  });
  return [
    target("chat requests", "service-chat", "requests.chat"),
    target("groups requests", "service-groups", "requests.groups"),
    target("group fan-out", "fanout", "group.", true),
    target("activity → presence", "presence", "activity"),
    target("activity → fan-out scores", "fanout-activity", "activity"),
  ];
}

/**
 * Samples the backlog of each service's consumer group while a phase runs: published
 * offsets minus committed ones (the bus commits after each fetched batch, and at least
 * every second within a long one, so this is the queue in front of a consumer to within
 * a batch). Shows which consumer the work waits for.
 */
class LagSampler {
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  private figures = new Map<string, { samples: number; max: number; sum: number }>();

  constructor(
    private readonly admin: Admin,
    private readonly targets: LagTarget[],
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.figures = new Map(this.targets.map((t) => [t.label, { samples: 0, max: 0, sum: 0 }]));
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample());
    }, this.intervalMs);
  }

  async stop(): Promise<Record<string, LagFigures>> {
    clearInterval(this.timer);
    await this.sampling;
    const result: Record<string, LagFigures> = {};
    for (const [label, f] of this.figures) {
      if (f.samples > 0) result[label] = { samples: f.samples, max: f.max, mean: Math.round((f.sum / f.samples) * 10) / 10 };
    }
    return result;
  }

  private async sample(): Promise<void> {
    let topics: string[] | null = null;
    await Promise.all(
      this.targets.map(async (target) => {
        try {
          if (target.prefix) topics ??= await this.admin.listTopics();
          const names = target.prefix ? (topics ?? []).filter((t) => t.startsWith(target.topic)) : [target.topic];
          if (names.length === 0) return;
          const [committed, ...ends] = await Promise.all([
            this.admin.fetchOffsets({ groupId: target.groupId, topics: names }),
            ...names.map((topic) => this.admin.fetchTopicOffsets(topic)),
          ]);
          let lag = 0;
          names.forEach((topic, k) => {
            const done = new Map((committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
            for (const { partition, high } of ends[k] ?? []) {
              const at = done.get(partition) ?? -1;
              if (at >= 0) lag += Math.max(0, Number(high) - at);
            }
          });
          const f = this.figures.get(target.label);
          if (f) {
            f.samples += 1;
            f.sum += lag;
            f.max = Math.max(f.max, lag);
          }
        } catch {
          // a sample lost: the figure has fewer samples
        }
      }),
    );
  }
}

// ---- where the CPU goes -------------------------------------------------------------

interface Watched {
  label: string;
  pid: number;
}

interface CpuSnapshot {
  at: number;
  machine: { busy: number; total: number } | null;
  processes: Map<string, number | null>;
  bench: NodeJS.CpuUsage;
  loops: Map<string, ProbeReply | null>;
  all: Map<number, { name: string; ms: number }>;
  redisCalls: Map<string, number> | null;
}

interface PhaseFigures {
  wallMs: number;
  /** CPU of each process, in percent of one core (100 = one core busy all the time). */
  cpuPercent: Record<string, number>;
  /** All cores together, in percent of one core: at most cores × 100. */
  machineBusyPercent: number | null;
  /** Busy CPU not accounted for by the processes above (other work on the machine). */
  otherPercent: number | null;
  /** The busiest of those other processes, in percent of one core. */
  otherTop: { pid: number; name: string; percent: number }[];
  /** Event-loop delay of each Parley process during the phase, ms. */
  eventLoopDelayMs: Record<string, ProbeReply["loopDelayMs"]>;
  /** Backlog of the services' consumer groups, sampled during the phase. */
  consumerLag: Record<string, LagFigures>;
  /** Commands the Redis server ran during the phase (all its clients), by command, busiest first. */
  redisCommands: Record<string, number>;
  loadAverage: number[];
}

/** CPU per process (ours and the back ends'), machine totals and event-loop delay, between two snapshots. */
class PhaseMeter {
  constructor(
    private readonly watched: Watched[],
    private readonly servers: ServeProcess[],
    private readonly lag: LagSampler | null,
    private readonly redis: Redis | null,
  ) {}

  /** Calls per command so far, from INFO commandstats. */
  private async redisCalls(): Promise<Map<string, number> | null> {
    if (!this.redis) return null;
    try {
      const info = await this.redis.info("commandstats");
      const calls = new Map<string, number>();
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] ?? "", Number(match[2]));
      return calls;
    } catch {
      return null;
    }
  }

  async snapshot(): Promise<CpuSnapshot> {
    const loops = new Map<string, ProbeReply | null>();
    await Promise.all(
      this.servers.map(async (server) => {
        loops.set(server.label, await server.probe(true).catch(() => null));
      }),
    );
    return {
      at: performance.now(),
      machine: machineCpuTicks(),
      processes: new Map(this.watched.map((w) => [w.label, cpuMsOf(w.pid)])),
      bench: process.cpuUsage(),
      loops,
      all: allProcessesCpuMs(),
      redisCalls: await this.redisCalls(),
    };
  }

  async since(before: CpuSnapshot, consumerLag: Record<string, LagFigures> = {}): Promise<PhaseFigures> {
    const loops = new Map<string, ProbeReply | null>();
    await Promise.all(
      this.servers.map(async (server) => {
        loops.set(server.label, await server.probe(false).catch(() => null));
      }),
    );
    const at = performance.now();
    const wallMs = at - before.at;
    const machine = machineCpuTicks();
    const cores = cpus().length;
    const cpuPercent: Record<string, number> = {};
    let accounted = 0;
    for (const { label, pid } of this.watched) {
      const start = before.processes.get(label);
      const end = cpuMsOf(pid);
      if (start === null || start === undefined || end === null) continue;
      const percent = wallMs > 0 ? ((end - start) / wallMs) * 100 : 0;
      cpuPercent[label] = Math.round(percent);
      accounted += percent;
    }
    const bench = process.cpuUsage(before.bench);
    const benchPercent = wallMs > 0 ? (bench.user + bench.system) / 10 / wallMs : 0;
    cpuPercent.bench = Math.round(benchPercent);
    accounted += benchPercent;
    let machineBusyPercent: number | null = null;
    if (before.machine && machine && machine.total > before.machine.total) {
      machineBusyPercent = Math.round(((machine.busy - before.machine.busy) / (machine.total - before.machine.total)) * cores * 100);
    }
    const known = new Set([process.pid, ...this.watched.map((w) => w.pid)]);
    const otherTop: PhaseFigures["otherTop"] = [];
    for (const [pid, { name, ms }] of allProcessesCpuMs()) {
      const start = before.all.get(pid);
      if (known.has(pid) || start === undefined || wallMs <= 0) continue;
      const percent = Math.round(((ms - start.ms) / wallMs) * 100);
      if (percent >= 2) otherTop.push({ pid, name, percent });
    }
    otherTop.sort((a, b) => b.percent - a.percent);
    otherTop.splice(5);
    const eventLoopDelayMs: Record<string, ProbeReply["loopDelayMs"]> = {};
    for (const [label, reply] of loops) if (reply) eventLoopDelayMs[label] = reply.loopDelayMs;
    const redisCommands: Record<string, number> = {};
    const redisAfter = await this.redisCalls();
    if (before.redisCalls && redisAfter) {
      const deltas = [...redisAfter].map(([command, calls]) => [command, calls - (before.redisCalls?.get(command) ?? 0)] as const);
      // The INFO calls of this meter itself are left out.
      for (const [command, calls] of deltas.sort((a, b) => b[1] - a[1])) if (calls > 0 && command !== "info") redisCommands[command] = calls;
    }
    return {
      wallMs: Math.round(wallMs),
      cpuPercent,
      machineBusyPercent,
      otherPercent: machineBusyPercent === null ? null : Math.max(0, Math.round(machineBusyPercent - accounted)),
      otherTop,
      eventLoopDelayMs,
      consumerLag,
      redisCommands,
      loadAverage: loadavg().map(round2),
    };
  }

  async measure<T>(work: () => Promise<T>): Promise<{ value: T; figures: PhaseFigures }> {
    const before = await this.snapshot();
    this.lag?.start();
    let value: T;
    try {
      value = await work();
    } catch (error) {
      await this.lag?.stop();
      throw error;
    }
    const consumerLag = (await this.lag?.stop()) ?? {};
    return { value, figures: await this.since(before, consumerLag) };
  }
}

// ---- 1:1 throughput -------------------------------------------------------------------

interface Flow {
  from: ParleyClient;
  to: ParleyClient;
  /** clientMessageId prefix; the message's index follows it. */
  prefix: string;
}

interface FlowState {
  sentAt: Float64Array;
  ackMs: Float64Array;
  endToEndMs: Float64Array;
  acked: number;
  errors: number;
  firstError: string | null;
  delivered: number;
  lastAckAt: number;
  lastDeliveryAt: number;
}

interface ThroughputResult {
  label: string;
  flows: number;
  messagesPerFlow: number;
  window: number;
  textBytes: number;
  acked: number;
  errors: number;
  firstError: string | null;
  delivered: number;
  /** Acked messages that never reached the recipient within the stall limit. */
  missing: number;
  /** From the first send to the last ack. */
  ackPhaseMs: number;
  /** From the first send to the last delivery. */
  durationMs: number;
  acksPerSecond: number;
  deliveriesPerSecond: number;
  /** Send call to ack, at the sender. */
  ackLatencyMs: Percentiles | null;
  /** Send call to the recipient's message event. */
  endToEndLatencyMs: Percentiles | null;
  phase: PhaseFigures;
}

function newFlowState(n: number): FlowState {
  return {
    sentAt: new Float64Array(n).fill(NaN),
    ackMs: new Float64Array(n).fill(NaN),
    endToEndMs: new Float64Array(n).fill(NaN),
    acked: 0,
    errors: 0,
    firstError: null,
    delivered: 0,
    lastAckAt: 0,
    lastDeliveryAt: 0,
  };
}

/** Counts `flow`'s messages arriving at the recipient; returns the detach function. */
function watchDeliveries(flow: Flow, state: FlowState, n: number): () => void {
  const senderId = flow.from.userId;
  const listener = (event: InboxEvent): void => {
    if (event.type !== "message" || event.message.senderId !== senderId) return;
    const id = event.message.clientMessageId;
    if (!id.startsWith(flow.prefix)) return;
    const now = performance.now();
    const i = Number(id.slice(flow.prefix.length));
    if (!Number.isInteger(i) || i < 0 || i >= n || !Number.isNaN(state.endToEndMs[i] ?? 0)) return;
    state.endToEndMs[i] = now - (state.sentAt[i] ?? NaN);
    state.delivered += 1;
    state.lastDeliveryAt = now;
  };
  flow.to.on("event", listener);
  return () => flow.to.off("event", listener);
}

/** Runs `send(i)` for i in [0, n), keeping `window` of them in flight. */
async function pumpWindow(n: number, window: number, open: () => boolean, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n && open()) await send(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
}

/** Sends `n` messages keeping `window` unacked sends in flight. */
function pump(flow: Flow, state: FlowState, n: number, window: number, text: string): Promise<void> {
  const to = flow.to.userId;
  return pumpWindow(
    n,
    window,
    () => flow.from.readyState === WebSocket.OPEN,
    async (i) => {
      const sentAt = performance.now();
      state.sentAt[i] = sentAt;
      try {
        await flow.from.send(to, text, flow.prefix + String(i));
        const now = performance.now();
        state.ackMs[i] = now - sentAt;
        state.acked += 1;
        state.lastAckAt = now;
      } catch (error) {
        state.errors += 1;
        state.firstError ??= error instanceof Error ? error.message : String(error);
      }
    },
  );
}

/** Waits until `delivered()` reaches `expected`, or until it stops progressing for DELIVERY_STALL_MS. */
async function waitForProgress(delivered: () => number, expected: number, what: string): Promise<void> {
  let last = delivered();
  let lastChange = performance.now();
  while (delivered() < expected) {
    await sleep(10);
    const now = delivered();
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > DELIVERY_STALL_MS) {
      progress(`${what} stalled at ${now} of ${expected}; giving up after ${DELIVERY_STALL_MS} ms`);
      return;
    }
  }
}

async function runThroughput(meter: PhaseMeter, label: string, flows: Flow[], n: number, window: number, text: string): Promise<ThroughputResult> {
  const runs = flows.map((flow) => ({ flow, state: newFlowState(n) }));
  const states = runs.map((run) => run.state);
  const detach = runs.map(({ flow, state }) => watchDeliveries(flow, state, n));
  const sum = (pick: (s: FlowState) => number): number => states.reduce((total, s) => total + pick(s), 0);
  let start = 0;
  const { figures } = await meter.measure(async () => {
    start = performance.now();
    try {
      await Promise.all(runs.map(({ flow, state }) => pump(flow, state, n, window, text)));
      await waitForProgress(() => sum((s) => s.delivered), sum((s) => s.acked), `${label}: deliveries`);
    } finally {
      for (const off of detach) off();
    }
  });

  const concat = (pick: (s: FlowState) => Float64Array): Float64Array => {
    const all = new Float64Array(n * states.length);
    states.forEach((s, k) => {
      all.set(pick(s), k * n);
    });
    return all;
  };
  const acked = sum((s) => s.acked);
  const delivered = sum((s) => s.delivered);
  const ackPhaseMs = acked > 0 ? Math.max(...states.map((s) => s.lastAckAt)) - start : 0;
  const durationMs = delivered > 0 ? Math.max(...states.map((s) => s.lastDeliveryAt)) - start : 0;
  return {
    label,
    flows: flows.length,
    messagesPerFlow: n,
    window,
    textBytes: text.length,
    acked,
    errors: sum((s) => s.errors),
    firstError: states.find((s) => s.firstError !== null)?.firstError ?? null,
    delivered,
    missing: acked - delivered,
    ackPhaseMs: round2(ackPhaseMs),
    durationMs: round2(durationMs),
    acksPerSecond: perSecond(acked, ackPhaseMs),
    deliveriesPerSecond: perSecond(delivered, durationMs),
    ackLatencyMs: percentiles(concat((s) => s.ackMs)),
    endToEndLatencyMs: percentiles(concat((s) => s.endToEndMs)),
    phase: figures,
  };
}

// ---- group fan-out ------------------------------------------------------------------------

interface GroupSetup {
  members: number;
  onGatewayA: number;
  onGatewayB: number;
  connectMs: number;
  /** group.create with the first members, then group.add frames for the rest. */
  createMs: number;
  addFrames: number;
  addMs: number;
  /** The first message of the new group: send until every member had it (its topic is new to the fan-out consumer). */
  firstMessageMs: number | null;
  firstMessageDelivered: number;
}

interface GroupResult {
  label: string;
  members: number;
  /** Members sending at once, each with its own window. */
  senders: number;
  messages: number;
  window: number;
  textBytes: number;
  acked: number;
  errors: number;
  firstError: string | null;
  expectedDeliveries: number;
  delivered: number;
  missing: number;
  duplicates: number;
  deliveredByTier: { realtime: number; batched: number };
  /** From the first send to the last ack. */
  ackPhaseMs: number;
  /** From the first send to the last delivery. */
  durationMs: number;
  acksPerSecond: number;
  deliveriesPerSecond: number;
  /** Send call to ack, at the sender. */
  ackLatencyMs: Percentiles | null;
  /** Send call to one member's group.messages frame, over every delivery. */
  deliveryLatencyMs: Percentiles | null;
  /** Send call to the moment the last member had the message, per message. */
  lastMemberLatencyMs: Percentiles | null;
  /** Ack at the sender to the moment the last member had the message, per message: the fan-out after the store. */
  ackToLastMemberMs: Percentiles | null;
  phase: PhaseFigures;
}

/** Counts group messages arriving at the members; per message, delivery times. */
class GroupWatch {
  readonly sentAt: Float64Array;
  readonly ackMs: Float64Array;
  readonly lastMemberMs: Float64Array;
  readonly latencies: number[] = [];
  private readonly counts: Uint32Array;
  private readonly seen: Uint8Array[];
  delivered = 0;
  duplicates = 0;
  readonly byTier = { realtime: 0, batched: 0 };
  lastDeliveryAt = 0;
  private readonly detachers: (() => void)[] = [];

  constructor(
    private readonly groupId: string,
    private readonly prefix: string,
    private readonly n: number,
    members: ParleyClient[],
  ) {
    this.sentAt = new Float64Array(n).fill(NaN);
    this.ackMs = new Float64Array(n).fill(NaN);
    this.lastMemberMs = new Float64Array(n).fill(NaN);
    this.counts = new Uint32Array(n);
    this.seen = members.map(() => new Uint8Array(n));
    members.forEach((client, k) => {
      const listener = (messages: Message[], tier: "realtime" | "batched"): void => {
        this.record(k, members.length, messages, tier);
      };
      client.on("groupMessages", listener);
      this.detachers.push(() => client.off("groupMessages", listener));
    });
  }

  detach(): void {
    for (const off of this.detachers) off();
  }

  private record(member: number, members: number, messages: Message[], tier: "realtime" | "batched"): void {
    const now = performance.now();
    const seen = this.seen[member];
    if (!seen) return;
    for (const message of messages) {
      if (message.groupId !== this.groupId || !message.clientMessageId.startsWith(this.prefix)) continue;
      const i = Number(message.clientMessageId.slice(this.prefix.length));
      if (!Number.isInteger(i) || i < 0 || i >= this.n) continue;
      if (seen[i] === 1) {
        this.duplicates += 1;
        continue;
      }
      seen[i] = 1;
      const latency = now - (this.sentAt[i] ?? NaN);
      this.latencies.push(latency);
      this.delivered += 1;
      this.byTier[tier] += 1;
      this.lastDeliveryAt = now;
      this.counts[i] = (this.counts[i] ?? 0) + 1;
      if (this.counts[i] === members) this.lastMemberMs[i] = latency;
    }
  }
}

interface GroupFixture {
  groupId: string;
  owner: ParleyClient;
  members: ParleyClient[];
  setup: GroupSetup;
}

async function setUpGroup(options: Options, connect: Connector, gatewayA: ServeProcess, gatewayB: ServeProcess, text: string): Promise<GroupFixture> {
  const size = options.groupMembers;
  phase = "group: connecting members";
  progress(`group: connecting ${size} members, alternately to gateway A and B`);
  const connectStarted = performance.now();
  const owner = await connect(gatewayA, "g-owner", false);
  const members: ParleyClient[] = [owner];
  for (let first = 1; first < size; first += CONNECT_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(CONNECT_BATCH, size - first) }, (_, k) => {
        const i = first + k;
        return connect(i % 2 === 0 ? gatewayA : gatewayB, `g-member-${i}`, false);
      }),
    );
    members.push(...batch);
  }
  const connectMs = performance.now() - connectStarted;
  const others = members.slice(1).map((client) => client.userId);

  phase = "group: creating the group";
  const firstMembers = others.slice(0, GROUP_MEMBERS_PER_FRAME - 1);
  const createStarted = performance.now();
  const created = expectReply(await owner.request({ type: "group.create", name: "bench", members: firstMembers }), "group").group;
  const createMs = performance.now() - createStarted;
  progress(`group: created ${created.groupId} with ${firstMembers.length + 1} members in ${Math.round(createMs)} ms`);
  const addStarted = performance.now();
  let addFrames = 0;
  for (let i = firstMembers.length; i < others.length; i += GROUP_MEMBERS_PER_FRAME) {
    const chunk = others.slice(i, i + GROUP_MEMBERS_PER_FRAME);
    const frameStarted = performance.now();
    const info = expectReply(await owner.request({ type: "group.add", groupId: created.groupId, members: chunk }), "group").group;
    addFrames += 1;
    progress(`group: added ${chunk.length} members (${info.memberCount} now) in ${Math.round(performance.now() - frameStarted)} ms`);
  }
  const addMs = performance.now() - addStarted;

  // The group's topic is new: the fan-out consumer finds it (a topic refresh and a
  // consumer restart) before the first message goes out.
  phase = "group: first message";
  const first = new GroupWatch(created.groupId, "first-", 1, members);
  const firstStarted = performance.now();
  first.sentAt[0] = firstStarted;
  await owner.groupSend(created.groupId, text, "first-0");
  await waitForProgress(() => first.delivered, members.length, "group: first message deliveries");
  first.detach();
  const firstMessageMs = first.delivered === members.length ? performance.now() - firstStarted : null;
  progress(`group: first message reached ${first.delivered} of ${members.length} members in ${Math.round(performance.now() - firstStarted)} ms`);

  return {
    groupId: created.groupId,
    owner,
    members,
    setup: {
      members: members.length,
      onGatewayA: members.filter((_, i) => i % 2 === 0).length,
      onGatewayB: members.filter((_, i) => i % 2 === 1).length,
      connectMs: Math.round(connectMs),
      createMs: Math.round(createMs),
      addFrames,
      addMs: Math.round(addMs),
      firstMessageMs: firstMessageMs === null ? null : Math.round(firstMessageMs),
      firstMessageDelivered: first.delivered,
    },
  };
}

/** `n` messages to the group from the first `senderCount` members (the owner first), `window` in flight per sender. */
async function runGroup(
  meter: PhaseMeter,
  label: string,
  group: GroupFixture,
  prefix: string,
  n: number,
  senderCount: number,
  window: number,
  text: string,
): Promise<GroupResult> {
  const watch = new GroupWatch(group.groupId, prefix, n, group.members);
  const senders = group.members.slice(0, Math.max(1, Math.min(senderCount, n, group.members.length)));
  let acked = 0;
  let errors = 0;
  let firstError: string | null = null;
  let lastAckAt = 0;
  let start = 0;
  const { figures } = await meter.measure(async () => {
    start = performance.now();
    try {
      // Sender k sends messages k, k + senders, k + 2 × senders, ...
      await Promise.all(
        senders.map((sender, k) =>
          pumpWindow(
            Math.ceil((n - k) / senders.length),
            window,
            () => sender.readyState === WebSocket.OPEN,
            async (j) => {
              const i = k + j * senders.length;
              const sentAt = performance.now();
              watch.sentAt[i] = sentAt;
              try {
                await sender.groupSend(group.groupId, text, prefix + String(i));
                const now = performance.now();
                watch.ackMs[i] = now - sentAt;
                acked += 1;
                lastAckAt = now;
              } catch (error) {
                errors += 1;
                firstError ??= error instanceof Error ? error.message : String(error);
              }
            },
          ),
        ),
      );
      await waitForProgress(() => watch.delivered, acked * group.members.length, "group deliveries");
    } finally {
      watch.detach();
    }
  });
  const expectedDeliveries = acked * group.members.length;
  const ackPhaseMs = acked > 0 ? lastAckAt - start : 0;
  const durationMs = watch.delivered > 0 ? watch.lastDeliveryAt - start : 0;
  return {
    label,
    members: group.members.length,
    senders: senders.length,
    messages: n,
    window,
    textBytes: text.length,
    acked,
    errors,
    firstError,
    expectedDeliveries,
    delivered: watch.delivered,
    missing: expectedDeliveries - watch.delivered,
    duplicates: watch.duplicates,
    deliveredByTier: { ...watch.byTier },
    ackPhaseMs: round2(ackPhaseMs),
    durationMs: round2(durationMs),
    acksPerSecond: perSecond(acked, ackPhaseMs),
    deliveriesPerSecond: perSecond(watch.delivered, durationMs),
    ackLatencyMs: percentiles(watch.ackMs),
    deliveryLatencyMs: percentiles(Float64Array.from(watch.latencies)),
    lastMemberLatencyMs: percentiles(watch.lastMemberMs),
    ackToLastMemberMs: percentiles(watch.lastMemberMs.map((ms, i) => ms - (watch.ackMs[i] ?? NaN))),
    phase: figures,
  };
}

// ---- processes, clients, clean-up ----------------------------------------------------------

type Connector = (gateway: ServeProcess, userId: string, autoSync: boolean) => Promise<ParleyClient>;

interface Started {
  servers: ServeProcess[];
  gatewayA: ServeProcess;
  gatewayB: ServeProcess;
  startMs: Record<string, number>;
}

async function startProcesses(env: Record<string, string>, names: RunNames, options: Options, servers: ServeProcess[]): Promise<Started> {
  const startMs: Record<string, number> = {};
  const start = async (service: string, label: string, extra: Record<string, string> = {}): Promise<ServeProcess> => {
    const started = performance.now();
    const server = await ServeProcess.start({
      service,
      label,
      env: { ...env, ...extra },
      startTimeoutMs: START_TIMEOUT_MS,
      nodeFlags: options.serverNodeOptions?.split(/\s+/).filter((flag) => flag !== "") ?? [],
      ...(options.serverLog === undefined ? {} : { logFile: options.serverLog }),
    });
    servers.push(server);
    startMs[label] = Math.round(performance.now() - started);
    progress(`${label} (pid ${server.pid}) listening at ${server.url} after ${startMs[label]} ms`);
    return server;
  };
  // The first service creates the keyspace, tables and bucket; the rest start on them.
  await start("chat", "chat");
  // More chat processes share the chat request topic's partitions (one consumer group).
  for (let i = 2; i <= options.chatProcesses; i++) await start("chat", `chat-${i}`);
  const [, , gatewayA, gatewayB] = await Promise.all([
    start("groups", "groups"),
    start("presence", "presence"),
    start("gateway", "gateway-a", { PARLEY_GATEWAY_ID: names.gatewayA }),
    start("gateway", "gateway-b", { PARLEY_GATEWAY_ID: names.gatewayB }),
  ]);
  return { servers, gatewayA, gatewayB, startMs };
}

interface CleanupReport {
  keyspaceDropped: boolean;
  topicsDeleted: number;
  consumerGroupsDeleted: number;
  bucketObjectsRemoved: number;
  bucketRemoved: boolean;
  redisKeysRemoved: number;
  problems: string[];
}

/** Drops what this run created on the shared servers: keyspace, topics and consumer groups, bucket, Redis keys. */
async function removeRunState(endpoints: Endpoints, names: RunNames): Promise<CleanupReport> {
  const report: CleanupReport = {
    keyspaceDropped: false,
    topicsDeleted: 0,
    consumerGroupsDeleted: 0,
    bucketObjectsRemoved: 0,
    bucketRemoved: false,
    redisKeysRemoved: 0,
    problems: [],
  };
  const attempt = async (what: string, step: () => Promise<void>): Promise<void> => {
    try {
      await step();
    } catch (error) {
      report.problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  await Promise.all([
    attempt("Cassandra keyspace", async () => {
      const cassandra = await connectCassandra({ contactPoints: endpoints.cassandraContactPoints.split(","), localDataCenter: endpoints.cassandraDc });
      try {
        await cassandra.execute(`DROP KEYSPACE IF EXISTS ${names.keyspace}`);
        report.keyspaceDropped = true;
      } finally {
        await cassandra.shutdown();
      }
    }),
    attempt("Kafka topics and consumer groups", async () => {
      // An admin client of its own: see deleteTopicsWithPrefix.
      const admin = new Kafka({ clientId: "bench-cleanup", brokers: endpoints.kafkaBrokers.split(","), logLevel: KafkaLogLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const prefix = `parley.${names.cluster}.`;
        report.consumerGroupsDeleted = (await deleteGroupsWithPrefix(admin, prefix)).length;
        report.topicsDeleted = (await deleteTopicsWithPrefix(admin, prefix)).length;
      } finally {
        await admin.disconnect();
      }
    }),
    attempt("S3 bucket", async () => {
      const s3 = createS3Client({ endPoint: endpoints.s3Endpoint, accessKey: endpoints.s3AccessKey, secretKey: endpoints.s3SecretKey, region: endpoints.s3Region });
      try {
        if (!(await s3.client.bucketExists(names.bucket))) return;
        const objects: string[] = [];
        for await (const item of s3.client.listObjectsV2(names.bucket, "", true) as AsyncIterable<{ name?: string }>) if (item.name) objects.push(item.name);
        if (objects.length > 0) await s3.client.removeObjects(names.bucket, objects);
        report.bucketObjectsRemoved = objects.length;
        await s3.client.removeBucket(names.bucket);
        report.bucketRemoved = true;
      } finally {
        s3.agent.destroy();
      }
    }),
    attempt("Redis keys", async () => {
      const redis = new Redis(endpoints.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
      try {
        await redis.connect();
        let cursor = "0";
        do {
          const [next, keys] = await redis.scan(cursor, "MATCH", `parley:${names.cluster}:*`, "COUNT", 1000);
          cursor = next;
          if (keys.length > 0) report.redisKeysRemoved += await redis.unlink(...keys);
        } while (cursor !== "0");
      } finally {
        redis.disconnect();
      }
    }),
  ]);
  return report;
}

/** A few series from a process's /metrics: counters and gauges (no histogram buckets). */
async function scrapeMetrics(url: string): Promise<Record<string, number>> {
  // The services' own series; the default process and Node.js series are left out.
  const wanted = /^parley_(?!process_|nodejs_)\w+(\{[^}]*\})? /;
  try {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const figures: Record<string, number> = {};
    for (const line of (await response.text()).split("\n")) {
      if (!wanted.test(line) || /_bucket\{/.test(line)) continue;
      const space = line.lastIndexOf(" ");
      const value = Number(line.slice(space + 1));
      if (value !== 0) figures[line.slice(0, space)] = value;
    }
    return figures;
  } catch (error) {
    progress(`could not read ${url}/metrics: ${error instanceof Error ? error.message : String(error)}`);
    return {};
  }
}

// ---- report --------------------------------------------------------------------------------

interface Environment {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  commit: string | null;
  dirty: boolean | null;
  loadAverageAtStart: number[];
}

function environment(): Environment {
  const git = (args: string[]): string | null => {
    try {
      return execFileSync("git", ["-C", fileURLToPath(new URL("../../..", import.meta.url)), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return null;
    }
  };
  const status = git(["status", "--porcelain"]);
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    commit: git(["rev-parse", "--short", "HEAD"]),
    dirty: status === null ? null : status.length > 0,
    loadAverageAtStart: loadavg().map(round2),
  };
}

function describeLatency(label: string, p: Percentiles | null): string {
  return p === null ? `  ${label}: no samples` : `  ${label}: p50 ${p.p50} ms, p95 ${p.p95} ms, p99 ${p.p99} ms, max ${p.max} ms`;
}

function describePhase(f: PhaseFigures): string[] {
  const cpu = Object.entries(f.cpuPercent)
    .sort(([, a], [, b]) => b - a)
    .map(([label, percent]) => `${label} ${percent}`)
    .join(", ");
  const loops = Object.entries(f.eventLoopDelayMs)
    .map(([label, d]) => `${label} ${d.p99}/${d.max}`)
    .join(", ");
  const lags = Object.entries(f.consumerLag)
    .filter(([, l]) => l.max > 0)
    .map(([label, l]) => `${label} ${l.max}/${l.mean}`)
    .join(", ");
  const redis = Object.entries(f.redisCommands)
    .slice(0, 4)
    .map(([command, calls]) => `${command} ${calls}`)
    .join(", ");
  const others = f.otherTop.map((o) => `${o.percent} ${o.name.slice(0, 60)}`).join("; ");
  return [
    `  CPU, % of one core: ${cpu}${f.otherPercent === null ? "" : `, other ${f.otherPercent}`}; machine ${String(f.machineBusyPercent)}% of ${cpus().length * 100}%`,
    ...(others === "" ? [] : [`  busiest other processes, % of one core: ${others}`]),
    `  event-loop delay p99/max ms (5 ms sampling included): ${loops}; load average ${f.loadAverage.join(" ")}`,
    ...(lags === "" ? [] : [`  consumer backlog, max/mean events: ${lags}`]),
    ...(redis === "" ? [] : [`  Redis commands (whole server): ${redis}`]),
  ];
}

function describeThroughput(title: string, r: ThroughputResult): string[] {
  return [
    `${title} (${r.flows} flow${r.flows > 1 ? "s" : ""} × ${r.messagesPerFlow} messages, window ${r.window} per sender, ${r.textBytes}-byte text)`,
    `  acks:        ${r.acksPerSecond} messages/s (${r.acked} acked in ${Math.round(r.ackPhaseMs)} ms${r.errors > 0 ? `, ${r.errors} errors: ${r.firstError ?? ""}` : ""})`,
    `  deliveries:  ${r.deliveriesPerSecond} messages/s (${r.delivered} delivered in ${Math.round(r.durationMs)} ms${r.missing > 0 ? `, ${r.missing} MISSING` : ""})`,
    describeLatency("send → ack       ", r.ackLatencyMs),
    describeLatency("send → delivered ", r.endToEndLatencyMs),
    ...describePhase(r.phase),
  ];
}

function describeGroupSetup(setup: GroupSetup): string {
  return (
    `Group of ${setup.members} members, ${setup.onGatewayA} on gateway A and ${setup.onGatewayB} on B: connected in ${setup.connectMs} ms; ` +
    `group.create (${Math.min(GROUP_MEMBERS_PER_FRAME, setup.members)} members) ${setup.createMs} ms, ${setup.addFrames} group.add frames ${setup.addMs} ms; ` +
    `first message to all members ${String(setup.firstMessageMs)} ms`
  );
}

function describeGroup(r: GroupResult): string[] {
  const from = r.senders === 1 ? "from the owner" : `from ${r.senders} members at once`;
  return [
    `Group fan-out, ${r.label} (${r.members} members; ${r.messages} messages ${from}, window ${r.window} per sender, ${r.textBytes}-byte text)`,
    `  acks:        ${r.acksPerSecond} messages/s (${r.acked} acked in ${Math.round(r.ackPhaseMs)} ms${r.errors > 0 ? `, ${r.errors} errors: ${r.firstError ?? ""}` : ""})`,
    `  deliveries:  ${r.deliveriesPerSecond} per second (${r.delivered} of ${r.expectedDeliveries} in ${Math.round(r.durationMs)} ms; realtime ${r.deliveredByTier.realtime}, batched ${r.deliveredByTier.batched}${r.missing > 0 ? `, ${r.missing} MISSING` : ""}${r.duplicates > 0 ? `, ${r.duplicates} duplicates` : ""})`,
    describeLatency("send → ack           ", r.ackLatencyMs),
    describeLatency("send → each member   ", r.deliveryLatencyMs),
    describeLatency("send → last member   ", r.lastMemberLatencyMs),
    describeLatency("ack → last member    ", r.ackToLastMemberMs),
    ...describePhase(r.phase),
  ];
}

// ---- command line -----------------------------------------------------------------------------

function count(min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return parsed;
  };
}

function parseOptions(argv: string[]): Options {
  const env = (name: string): string => `PARLEY_BENCH_REAL_${name}`;
  const program = new Command("parley-bench-real")
    .description(
      "Starts `parley serve` gateway (×2), chat, groups and presence on the real back ends of hack/infra.sh (a cluster " +
        "name, keyspace and bucket of their own), measures 1:1 and group message throughput and latency, prints a report, " +
        "then one JSON line, stops the processes and removes what the run created. Never fails on a figure; exits " +
        "non-zero only when it cannot measure or passes --timeout.",
    )
    .addOption(new Option("--messages <n>", "1:1 messages alice → bob in the main run (0 skips the 1:1 runs)").env(env("MESSAGES")).argParser(count(0, 1_000_000)).default(2_000))
    .addOption(new Option("--window <n>", "unacked sends kept in flight per sender").env(env("WINDOW")).argParser(count(1, 10_000)).default(32))
    .addOption(new Option("--serial-messages <n>", "1:1 messages sent one at a time (window 1), for the round-trip time (0 skips)").env(env("SERIAL_MESSAGES")).argParser(count(0, 100_000)).default(200))
    .addOption(new Option("--no-two-way", "skip the run with alice and bob sending at once"))
    .addOption(new Option("--pairs <n>", "pairs of users (sender on A, recipient on B) sending at once, --messages in all (0 or 1 skips)").env(env("PAIRS")).argParser(count(0, 1_000)).default(8))
    .addOption(new Option("--group-members <n>", "members of the fan-out group, the owner included (0 skips the group run)").env(env("GROUP_MEMBERS")).argParser(count(0, 10_000)).default(200))
    .addOption(new Option("--group-messages <n>", "messages the owner posts to the group").env(env("GROUP_MESSAGES")).argParser(count(1, 100_000)).default(300))
    .addOption(new Option("--group-window <n>", "unacked group sends kept in flight").env(env("GROUP_WINDOW")).argParser(count(1, 10_000)).default(16))
    .addOption(new Option("--group-senders <n>", "members posting at once in the second group run (the first has the owner alone; 1 skips it)").env(env("GROUP_SENDERS")).argParser(count(1, 1_000)).default(4))
    .addOption(new Option("--chat-processes <n>", "`parley serve chat` processes (they split the chat request topic's 3 partitions)").env(env("CHAT_PROCESSES")).argParser(count(1, 3)).default(1))
    .addOption(new Option("--text-bytes <n>", "length of each message's text").env(env("TEXT_BYTES")).argParser(count(1, 4096)).default(64))
    .addOption(new Option("--timeout <seconds>", "kill everything, clean up and exit 1 after this long").env(env("TIMEOUT")).argParser(count(30, 86_400)).default(900))
    .addOption(new Option("--server-node-options <flags>", 'extra Node.js flags for the parley processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")'))
    .addOption(new Option("--server-log <file>", "append the parley processes' stdout and stderr to <file>"))
    .showHelpAfterError()
    .addHelpText(
      "after",
      "\nBack-end endpoints: PARLEY_TEST_* variables, else ~/.cache/parley/run/endpoints.env (hack/infra.sh up redis s3proxy kafka cassandra).\nEach flag can also be set with its PARLEY_BENCH_REAL_* variable, e.g. PARLEY_BENCH_REAL_MESSAGES=500 npm run bench:real.",
    );
  program.parse(argv);
  return program.opts<Options>();
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const options = parseOptions(process.argv);
  const started = performance.now();
  const env = environment();
  const endpoints = readEndpoints();
  const names = runNames();
  const jwtSecret = `bench-real-${randomBytes(24).toString("hex")}`;
  const tokens = new TokenAuthority(jwtSecret);
  const childEnv = serverEnv(endpoints, names, jwtSecret);
  const servers: ServeProcess[] = [];
  const clients: ParleyClient[] = [];
  let closing = false;
  let unexpectedCloses = 0;
  let lagAdmin: Admin | undefined;
  let statsRedis: Redis | undefined;

  let cleanup: Promise<CleanupReport> | undefined;
  const cleanUpOnce = (): Promise<CleanupReport> => {
    cleanup ??= Promise.race([
      removeRunState(endpoints, names),
      sleep(CLEANUP_TIMEOUT_MS).then(() => {
        throw new Error(`clean-up did not finish within ${CLEANUP_TIMEOUT_MS} ms`);
      }),
    ]);
    return cleanup;
  };
  let shuttingDown: Promise<void> | undefined;
  /**
   * After a failure, a timeout or a signal: SIGTERM first (so the consumers leave their
   * groups, which can then be deleted), SIGKILL what is left, then the clean-up.
   */
  const shutDownAfterFailure = (): Promise<void> => {
    shuttingDown ??= (async () => {
      closing = true;
      await lagAdmin?.disconnect().catch(() => undefined);
      statsRedis?.disconnect();
      for (const client of clients) client.close().catch(() => undefined);
      await Promise.all(servers.map((s) => s.stop(ABORT_STOP_MS)));
      killAllServeProcesses(); // any still starting
      try {
        process.stderr.write(`clean-up: ${JSON.stringify(await cleanUpOnce())}\n`);
      } catch (error) {
        process.stderr.write(`clean-up failed: ${String(error)}\n`);
      }
    })();
    return shuttingDown;
  };
  let abortCode: number | undefined;
  const abort = (message: string, code: number): void => {
    if (abortCode !== undefined) return;
    abortCode = code;
    process.stderr.write(`parley-bench-real: ${message} during "${phase}"; stopping the processes and cleaning up ${names.cluster}\n`);
    // A backstop in case the stop or the clean-up hangs.
    setTimeout(() => process.exit(code), ABORT_STOP_MS + CLEANUP_TIMEOUT_MS + 10_000).unref();
    void shutDownAfterFailure().finally(() => process.exit(code));
  };
  const deadline = setTimeout(() => {
    abort(`timed out after ${options.timeout} s`, 1);
  }, options.timeout * 1000);
  process.once("SIGINT", () => {
    abort("interrupted", 130);
  });
  process.once("SIGTERM", () => {
    abort("terminated", 143);
  });

  try {
    progress(`run ${names.cluster}: keyspace ${names.keyspace}, bucket ${names.bucket}; load average ${env.loadAverageAtStart.join(" ")}`);
    phase = "starting the processes";
    const processesStarted = performance.now();
    const { gatewayA, gatewayB, startMs } = await startProcesses(childEnv, names, options, servers);
    const startupMs = Math.round(performance.now() - processesStarted);

    const infra: Watched[] = [];
    const port = (hostPort: string): number => Number(/:(\d+)$/.exec(hostPort.split(",")[0] ?? "")?.[1] ?? NaN);
    for (const [label, listenPort] of [
      ["kafka", port(endpoints.kafkaBrokers)],
      ["cassandra", port(endpoints.cassandraContactPoints)],
      ["redis", Number(new URL(endpoints.redisUrl).port)],
    ] as const) {
      const pid = Number.isInteger(listenPort) ? pidListeningOn(listenPort) : null;
      if (pid !== null) infra.push({ label, pid });
      else progress(`could not find the ${label} process (port ${listenPort}); its CPU is counted as "other"`);
    }
    lagAdmin = new Kafka({ clientId: `bench-lag-${names.id}`, brokers: endpoints.kafkaBrokers.split(","), logLevel: KafkaLogLevel.NOTHING }).admin();
    await lagAdmin.connect();
    statsRedis = new Redis(endpoints.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await statsRedis.connect();
    const meter = new PhaseMeter(
      [...servers.map((s) => ({ label: s.label, pid: s.pid })), ...infra],
      servers,
      new LagSampler(lagAdmin, lagTargets(names.cluster), LAG_SAMPLE_MS),
      statsRedis,
    );
    phase = "idle";
    progress(`idle: ${IDLE_MS} ms with no clients, for the processes' baseline CPU`);
    const { figures: idle } = await meter.measure(() => sleep(IDLE_MS));

    const connect: Connector = async (gateway, userId, autoSync) => {
      const client = await ParleyClient.connect({ url: gateway.websocketUrl, token: await tokens.issue(userId, TOKEN_TTL_SECONDS), deviceId: "bench", autoSync });
      client.on("error", (error) => {
        progress(`${userId}: ${error.message}`);
      });
      client.on("close", (code, reason) => {
        if (closing) return;
        unexpectedCloses += 1;
        progress(`${userId}'s connection closed (${code}${reason ? `: ${reason}` : ""})`);
      });
      clients.push(client);
      return client;
    };
    const text = benchText(options.textBytes);
    const alive = (): void => {
      if (abortCode !== undefined) throw new Error("aborted");
      const dead = servers.filter((s) => !s.running);
      if (dead.length > 0) throw new Error(`${dead.map((s) => `${s.label} (${s.describeExit()})`).join(", ")} stopped during the run`);
    };

    // ---- 1:1 ----
    const oneToOne: ThroughputResult[] = [];
    if (options.messages > 0) {
      phase = "1:1: connecting";
      const alice = await connect(gatewayA, "alice", true);
      const bob = await connect(gatewayB, "bob", true);

      phase = "1:1: warm-up";
      const warmup = Math.min(WARMUP_MESSAGES, options.messages);
      progress(`1:1 warm-up: ${warmup} messages alice → bob`);
      const warm = await runThroughput(meter, "warm-up", [{ from: alice, to: bob, prefix: "warmup-" }], warmup, options.window, text);
      progress(`1:1 warm-up: ${warm.acksPerSecond} acks/s, ${warm.deliveriesPerSecond} deliveries/s`);
      alive();

      phase = "1:1: one way";
      progress(`1:1 one way: ${options.messages} messages alice@A → bob@B, window ${options.window}`);
      const oneWay = await runThroughput(meter, "one way", [{ from: alice, to: bob, prefix: "a2b-1-" }], options.messages, options.window, text);
      oneToOne.push(oneWay);
      progress(`1:1 one way: ${oneWay.acksPerSecond} acks/s, ${oneWay.deliveriesPerSecond} deliveries/s, ack p50 ${String(oneWay.ackLatencyMs?.p50)} ms`);
      alive();

      if (options.serialMessages > 0) {
        phase = "1:1: one at a time";
        progress(`1:1 one at a time: ${options.serialMessages} messages alice@A → bob@B, window 1`);
        const serial = await runThroughput(meter, "one at a time", [{ from: alice, to: bob, prefix: "a2b-s-" }], options.serialMessages, 1, text);
        oneToOne.push(serial);
        progress(`1:1 one at a time: ${serial.acksPerSecond} acks/s, ack p50 ${String(serial.ackLatencyMs?.p50)} ms`);
        alive();
      }

      if (options.twoWay) {
        phase = "1:1: both ways";
        progress(`1:1 both ways: ${options.messages} messages each way at once, window ${options.window} each`);
        const twoWay = await runThroughput(
          meter,
          "both ways",
          [
            { from: alice, to: bob, prefix: "a2b-2-" },
            { from: bob, to: alice, prefix: "b2a-2-" },
          ],
          options.messages,
          options.window,
          text,
        );
        oneToOne.push(twoWay);
        progress(`1:1 both ways: ${twoWay.acksPerSecond} acks/s, ${twoWay.deliveriesPerSecond} deliveries/s in total`);
        alive();
      }

      if (options.pairs > 1) {
        phase = "1:1: pairs";
        const perPair = Math.max(1, Math.floor(options.messages / options.pairs));
        progress(`1:1 pairs: ${options.pairs} pairs at once (sender on A, recipient on B), ${perPair} messages each, window ${options.window} each`);
        const flows: Flow[] = [];
        for (let p = 0; p < options.pairs; p++) {
          const from = await connect(gatewayA, `pair-${p}-a`, true);
          const to = await connect(gatewayB, `pair-${p}-b`, true);
          flows.push({ from, to, prefix: `pair-${p}-` });
        }
        const pairs = await runThroughput(meter, "pairs", flows, perPair, options.window, text);
        oneToOne.push(pairs);
        progress(`1:1 pairs: ${pairs.acksPerSecond} acks/s, ${pairs.deliveriesPerSecond} deliveries/s in total`);
        alive();
      }
    }

    // ---- groups ----
    let group: { setup: GroupSetup; warmup: GroupResult; runs: GroupResult[] } | null = null;
    if (options.groupMembers >= 2) {
      const fixture = await setUpGroup(options, connect, gatewayA, gatewayB, text);
      alive();
      phase = "group: warm-up";
      const warmupCount = Math.min(GROUP_WARMUP_MESSAGES, options.groupMessages);
      const warmup = await runGroup(meter, "warm-up", fixture, "gwarm-", warmupCount, 1, options.groupWindow, text);
      progress(`group warm-up: ${warmup.deliveriesPerSecond} deliveries/s (realtime ${warmup.deliveredByTier.realtime}, batched ${warmup.deliveredByTier.batched})`);
      alive();
      const runs: GroupResult[] = [];
      for (const [label, senders, prefix] of [
        ["one sender", 1, "gmsg-1-"],
        ["several senders", options.groupSenders, "gmsg-n-"],
      ] as const) {
        if (label === "several senders" && senders < 2) continue;
        phase = `group: ${label}`;
        progress(`group, ${label}: ${options.groupMessages} messages from ${senders} member(s) to ${fixture.members.length} members, window ${options.groupWindow} each`);
        const result = await runGroup(meter, label, fixture, prefix, options.groupMessages, senders, options.groupWindow, text);
        runs.push(result);
        progress(`group, ${label}: ${result.acksPerSecond} acks/s, ${result.deliveriesPerSecond} deliveries/s (${result.delivered} of ${result.expectedDeliveries})`);
        alive();
      }
      group = { setup: fixture.setup, warmup, runs };
    }

    phase = "reading metrics";
    const metrics: Record<string, Record<string, number>> = {};
    for (const server of servers) metrics[server.label] = await scrapeMetrics(server.url);
    const rssKiB = Object.fromEntries(servers.map((s) => [s.label, s.rssKiB()]));

    phase = "stopping the processes";
    closing = true;
    await lagAdmin.disconnect().catch(() => undefined);
    statsRedis.disconnect();
    await Promise.race([Promise.all(clients.map((c) => c.close())), sleep(5_000)]);
    progress("stopping the processes (SIGTERM)");
    const stopped: ServeStopResult[] = await Promise.all(servers.map((s) => s.stop(STOP_TIMEOUT_MS)));
    phase = "cleaning up";
    progress(`removing ${names.keyspace}, topics and groups parley.${names.cluster}.*, bucket ${names.bucket}, Redis keys parley:${names.cluster}:*`);
    const cleaned = await cleanUpOnce();
    phase = "reporting";

    const logs = Object.fromEntries(
      servers.map((s) => [s.label, { warn: s.warnCount, error: s.errorCount, byLevel: Object.fromEntries(s.linesByLevel), first: s.problems.slice(0, 5) }]),
    );
    const lines = [
      "",
      `Parley benchmark, production shape — commit ${env.commit ?? "unknown"}${env.dirty === true ? " (uncommitted changes)" : ""}, Node ${env.node}, ${env.cpus} × ${env.cpuModel}`,
      `back ends: Kafka ${endpoints.kafkaBrokers} (3 partitions, RF 1), Cassandra ${endpoints.cassandraContactPoints} (RF 1, LOCAL_QUORUM), Redis ${endpoints.redisUrl}, S3 ${endpoints.s3Endpoint}`,
      `run ${names.cluster}: parley serve gateway ×2, chat${options.chatProcesses > 1 ? ` ×${options.chatProcesses}` : ""}, groups, presence; started in ${startupMs} ms (${Object.entries(startMs)
        .map(([label, ms]) => `${label} ${ms}`)
        .join(", ")}); load average at start ${env.loadAverageAtStart.join(" ")}`,
      "",
      `Idle, no clients (${Math.round(idle.wallMs)} ms)`,
      ...describePhase(idle),
      "",
    ];
    const titles: Record<string, string> = {
      "one way": "1:1, one way, alice@A → bob@B",
      "one at a time": "1:1, one send at a time, alice@A → bob@B",
      "both ways": "1:1, both ways at once, alice ⇄ bob (figures are totals)",
      pairs: "1:1, several pairs at once, senders on A, recipients on B (figures are totals)",
    };
    for (const r of oneToOne) lines.push(...describeThroughput(titles[r.label] ?? r.label, r), "");
    if (group) {
      lines.push(describeGroupSetup(group.setup), "");
      for (const r of group.runs) lines.push(...describeGroup(r), "");
    }
    const problems = servers.filter((s) => s.warnCount + s.errorCount > 0);
    for (const s of problems) lines.push(`  ${s.label} logged ${s.warnCount} warnings and ${s.errorCount} errors, first ones:`, ...s.problems.slice(0, 3).map((l) => `    ${l}`));
    if (unexpectedCloses > 0) lines.push(`  ${unexpectedCloses} client connections were closed by the server during the run`);
    lines.push(
      `stopped: ${stopped.map((s) => `${s.label} ${s.ms} ms (${s.exit}${s.killed ? ", KILLED" : ""})`).join(", ")}`,
      `clean-up: keyspace ${cleaned.keyspaceDropped ? "dropped" : "NOT dropped"}, ${cleaned.topicsDeleted} topics and ${cleaned.consumerGroupsDeleted} consumer groups deleted, bucket ${cleaned.bucketRemoved ? "removed" : "NOT removed"}, ${cleaned.redisKeysRemoved} Redis keys removed${cleaned.problems.length > 0 ? `; problems: ${cleaned.problems.join("; ")}` : ""}`,
      `Total time ${Math.round((performance.now() - started) / 1000)} s; load average at the end ${loadavg().map(round2).join(" ")}. JSON:`,
    );
    process.stdout.write(lines.join("\n") + "\n");
    process.stdout.write(
      JSON.stringify({
        benchmark: "parley-real-backends",
        schema: 1,
        at: new Date().toISOString(),
        environment: env,
        options,
        run: { ...names, env: reportedEnv(childEnv), startupMs, startMs, infraPids: Object.fromEntries(infra.map((w) => [w.label, w.pid])) },
        idle,
        oneToOne,
        group,
        metrics,
        rssKiB,
        logs,
        unexpectedCloses,
        stopped,
        cleanup: cleaned,
      }) + "\n",
    );
    return 0;
  } catch (error) {
    // After an abort the run fails as a consequence; the abort reports and exits.
    if (abortCode === undefined) {
      process.stderr.write(`parley-bench-real: failed during "${phase}": ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    await shutDownAfterFailure();
    return abortCode ?? 1;
  } finally {
    clearTimeout(deadline);
  }
}

process.exit(await main());
