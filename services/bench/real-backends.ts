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
 *   latency per delivery;
 * - the 1:1 flows of the busiest run again, paced at half of the best rate: ack latency
 *   below saturation;
 * - the durable minimum (durable-minimum.ts), the baseline Parley's 1:1 rate is judged by;
 * and prints each figure of issue 14 beside its target (real-targets.ts).
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
import { Command, Option } from "commander";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import kafkajs from "kafkajs";
import type { Admin } from "kafkajs";
import { connectCassandra } from "../adapters/cassandra/cassandra-options.js";
import { createS3Client } from "../adapters/s3/s3-blob-store.js";
import { TokenAuthority } from "../auth/tokens.js";
import type { ParleyClient } from "../sdk/index.js";
import { openBenchClient } from "./bench-client.js";
import { deleteKafkaPrefix, unlinkKeys } from "./backend-cleanup.js";
import { CliProcess, killAllCliProcesses, RAISED_LIMITS, type StopResult } from "./cli-process.js";
import { wholeNumber } from "./command-line.js";
import { lagTargets, LagSampler } from "./consumer-lag.js";
import { describeEnvironment, environment } from "./environment.js";
import { describeFlows, describeLatency, driveFlows, type Flow, type FlowFigures, type Pace, type StallLimit } from "./flows.js";
import { measureDurableMinimum, type DurableMinimumFigures } from "./durable-minimum.js";
import { describeTargets, type TargetInputs } from "./real-targets.js";
import { describeGroup, GROUP_MEMBERS_PER_FRAME, sendToGroup, setUpGroup, type GroupFigures, type GroupFixture, type GroupSetup } from "./group-flows.js";
import { readInfraEndpoint } from "./infra-endpoints.js";
import { readMetricsOrNone } from "./metrics-scrape.js";
import { describePhase, PhaseMeter, type PhaseFigures, type Watched } from "./phase-meter.js";
import { pidListeningOn } from "./process-stats.js";
import { benchText, round2 } from "./stats.js";
import { redisKeyPrefix, topicPrefix } from "../events/cluster-names.js";

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
/** How long the paced run at half of the 1:1 peak lasts. */
const HALF_PEAK_SECONDS = 10;
const GROUP_WARMUP_MESSAGES = 20;
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

const STALL: StallLimit = { stallMs: DELIVERY_STALL_MS, progress };

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
    ...RAISED_LIMITS,
  };
}

/** The settings reported (the secrets left out). */
function reportedEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => name !== "PARLEY_JWT_SECRET" && name !== "PARLEY_S3_SECRET_KEY"));
}

// ---- runs -----------------------------------------------------------------------------

interface ThroughputResult extends FlowFigures {
  label: string;
  flows: number;
  messagesPerFlow: number;
  pace: Pace;
  textBytes: number;
  phase: PhaseFigures;
}

async function runThroughput(meter: PhaseMeter, label: string, flows: Flow[], n: number, pace: Pace, text: string): Promise<ThroughputResult> {
  const { value, figures } = await meter.measure(() => driveFlows(flows, n, pace, text, label, STALL));
  return { label, flows: flows.length, messagesPerFlow: n, pace, textBytes: text.length, ...value, phase: figures };
}

interface GroupResult extends GroupFigures {
  label: string;
  phase: PhaseFigures;
}

async function runGroup(meter: PhaseMeter, label: string, group: GroupFixture, prefix: string, n: number, senders: number, window: number, text: string): Promise<GroupResult> {
  const { value, figures } = await meter.measure(() => sendToGroup(group, prefix, n, senders, window, text, STALL));
  return { label, ...value, phase: figures };
}

// ---- processes, clients, clean-up ----------------------------------------------------------

type Connector = (gateway: CliProcess, userId: string) => Promise<ParleyClient>;

interface Started {
  servers: CliProcess[];
  gatewayA: CliProcess;
  gatewayB: CliProcess;
  startMs: Record<string, number>;
}

async function startProcesses(env: Record<string, string>, names: RunNames, options: Options, servers: CliProcess[]): Promise<Started> {
  const startMs: Record<string, number> = {};
  const start = async (service: string, label: string, extra: Record<string, string> = {}): Promise<CliProcess> => {
    const started = performance.now();
    const server = await CliProcess.serve({
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
      const deleted = await deleteKafkaPrefix(endpoints.kafkaBrokers.split(","), topicPrefix(names.cluster));
      report.consumerGroupsDeleted = deleted.consumerGroups;
      report.topicsDeleted = deleted.topics;
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
        report.redisKeysRemoved = await unlinkKeys(redis, `${redisKeyPrefix(names.cluster)}*`);
      } finally {
        redis.disconnect();
      }
    }),
  ]);
  return report;
}

/** A few series from a process's /metrics: the services' own counters and gauges (no histogram buckets, no zeros). */
function scrapeMetrics(url: string): Promise<Record<string, number>> {
  // Parley's own only: the standard process and Node.js series are not named parley_*.
  const wanted = /^parley_\w+(\{[^}]*\})?$/;
  return readMetricsOrNone(url, (series, value) => wanted.test(series) && !/_bucket\{/.test(series) && value !== 0, progress);
}

// ---- report --------------------------------------------------------------------------------

/** The largest figure, or null when there is none (no reading is not a reading of 0). */
function maxOrNull(figures: readonly number[]): number | null {
  return figures.length === 0 ? null : Math.max(...figures);
}

function describeThroughput(title: string, r: ThroughputResult): string[] {
  return [
    `${title} (${r.flows} flow${r.flows > 1 ? "s" : ""} × ${r.messagesPerFlow} messages, ${"window" in r.pace ? `window ${r.pace.window}` : `${r.pace.ratePerSecond} messages/s`} per sender, ${r.textBytes}-byte text)`,
    ...describeFlows(r),
    ...describePhase(r.phase),
  ];
}

/** Members alternate between the gateways, the owner (0) on A. */
function onGateway(index: number, gatewayA: CliProcess, gatewayB: CliProcess): CliProcess {
  return index % 2 === 0 ? gatewayA : gatewayB;
}

function describeGroupSetup(setup: GroupSetup): string {
  return (
    `Group of ${setup.members} members, ${Math.ceil(setup.members / 2)} on gateway A and ${Math.floor(setup.members / 2)} on B: connected in ${setup.connectMs} ms; ` +
    `group.create (${Math.min(GROUP_MEMBERS_PER_FRAME, setup.members)} members) ${setup.createMs} ms, ${setup.addFrames} group.add frames ${setup.addMs} ms; ` +
    `first message to all members ${String(setup.firstMessageMs)} ms`
  );
}

// ---- command line -----------------------------------------------------------------------------

function parseOptions(argv: string[]): Options {
  const env = (name: string): string => `PARLEY_BENCH_REAL_${name}`;
  const program = new Command("parley-bench-real")
    .description(
      "Starts `parley serve` gateway (×2), chat, groups and presence on the real back ends of hack/infra.sh (a cluster " +
        "name, keyspace and bucket of their own), measures 1:1 and group message throughput and latency, prints a report, " +
        "then one JSON line, stops the processes and removes what the run created. Never fails on a figure; exits " +
        "non-zero only when it cannot measure or passes --timeout.",
    )
    .addOption(new Option("--messages <n>", "1:1 messages alice → bob in the main run (0 skips the 1:1 runs)").env(env("MESSAGES")).argParser(wholeNumber(0, 1_000_000)).default(2_000))
    .addOption(new Option("--window <n>", "unacked sends kept in flight per sender").env(env("WINDOW")).argParser(wholeNumber(1, 10_000)).default(32))
    .addOption(new Option("--serial-messages <n>", "1:1 messages sent one at a time (window 1), for the round-trip time (0 skips)").env(env("SERIAL_MESSAGES")).argParser(wholeNumber(0, 100_000)).default(200))
    .addOption(new Option("--no-two-way", "skip the run with alice and bob sending at once"))
    .addOption(new Option("--pairs <n>", "pairs of users (sender on A, recipient on B) sending at once, --messages in all (0 or 1 skips)").env(env("PAIRS")).argParser(wholeNumber(0, 1_000)).default(8))
    .addOption(new Option("--group-members <n>", "members of the fan-out group, the owner included (0 skips the group run)").env(env("GROUP_MEMBERS")).argParser(wholeNumber(0, 10_000)).default(200))
    .addOption(new Option("--group-messages <n>", "messages the owner posts to the group").env(env("GROUP_MESSAGES")).argParser(wholeNumber(1, 100_000)).default(300))
    .addOption(new Option("--group-window <n>", "unacked group sends kept in flight").env(env("GROUP_WINDOW")).argParser(wholeNumber(1, 10_000)).default(16))
    .addOption(new Option("--group-senders <n>", "members posting at once in the second group run (the first has the owner alone; 1 skips it)").env(env("GROUP_SENDERS")).argParser(wholeNumber(1, 1_000)).default(4))
    .addOption(new Option("--chat-processes <n>", "`parley serve chat` processes (they split the chat request topic's 3 partitions)").env(env("CHAT_PROCESSES")).argParser(wholeNumber(1, 3)).default(1))
    .addOption(new Option("--text-bytes <n>", "length of each message's text").env(env("TEXT_BYTES")).argParser(wholeNumber(1, 4096)).default(64))
    .addOption(new Option("--timeout <seconds>", "kill everything, clean up and exit 1 after this long").env(env("TIMEOUT")).argParser(wholeNumber(30, 86_400)).default(900))
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
  const env = { ...environment(), loadAverageAtStart: loadavg().map(round2) };
  const endpoints = readEndpoints();
  const names = runNames();
  const jwtSecret = `bench-real-${randomBytes(24).toString("hex")}`;
  const tokens = new TokenAuthority(jwtSecret);
  const childEnv = serverEnv(endpoints, names, jwtSecret);
  const servers: CliProcess[] = [];
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
      killAllCliProcesses(); // any still starting
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
    lagAdmin = new kafkajs.Kafka({ clientId: `bench-lag-${names.id}`, brokers: endpoints.kafkaBrokers.split(","), logLevel: kafkajs.logLevel.NOTHING }).admin();
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

    const connect: Connector = async (gateway, userId) => {
      const client = await openBenchClient(gateway.websocketUrl, await tokens.issue(userId, TOKEN_TTL_SECONDS));
      client.on("error", (error) => {
        progress(`${userId}: ${error.message}`);
      });
      client.on("close", ({ code, reason }) => {
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
    let halfPeak: ThroughputResult | null = null;
    let durableMinimum: DurableMinimumFigures | null = null;
    if (options.messages > 0) {
      phase = "1:1: connecting";
      const alice = await connect(gatewayA, "alice");
      const bob = await connect(gatewayB, "bob");
      /** The flows of the busiest 1:1 phase: the pairs, when there are several. */
      let busiest: Flow[] = [{ from: alice, to: bob, prefix: "a2b-h-" }];

      phase = "1:1: warm-up";
      const warmup = Math.min(WARMUP_MESSAGES, options.messages);
      progress(`1:1 warm-up: ${warmup} messages alice → bob`);
      const warm = await runThroughput(meter, "warm-up", [{ from: alice, to: bob, prefix: "warmup-" }], warmup, { window: options.window }, text);
      progress(`1:1 warm-up: ${warm.acksPerSecond} acks/s, ${warm.deliveriesPerSecond} deliveries/s`);
      alive();

      phase = "1:1: one way";
      progress(`1:1 one way: ${options.messages} messages alice@A → bob@B, window ${options.window}`);
      const oneWay = await runThroughput(meter, "one way", [{ from: alice, to: bob, prefix: "a2b-1-" }], options.messages, { window: options.window }, text);
      oneToOne.push(oneWay);
      progress(`1:1 one way: ${oneWay.acksPerSecond} acks/s, ${oneWay.deliveriesPerSecond} deliveries/s, ack p50 ${String(oneWay.ackLatencyMs?.p50)} ms`);
      alive();

      if (options.serialMessages > 0) {
        phase = "1:1: one at a time";
        progress(`1:1 one at a time: ${options.serialMessages} messages alice@A → bob@B, window 1`);
        const serial = await runThroughput(meter, "one at a time", [{ from: alice, to: bob, prefix: "a2b-s-" }], options.serialMessages, { window: 1 }, text);
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
          { window: options.window },
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
          const from = await connect(gatewayA, `pair-${p}-a`);
          const to = await connect(gatewayB, `pair-${p}-b`);
          flows.push({ from, to, prefix: `pair-${p}-` });
        }
        const pairs = await runThroughput(meter, "pairs", flows, perPair, { window: options.window }, text);
        oneToOne.push(pairs);
        progress(`1:1 pairs: ${pairs.acksPerSecond} acks/s, ${pairs.deliveriesPerSecond} deliveries/s in total`);
        alive();
        busiest = flows.map((flow) => ({ ...flow, prefix: `${flow.prefix}h-` }));
      }

      // Latency below saturation: half of the best rate above, spread over the same flows.
      const peak = Math.max(...oneToOne.map((r) => r.acksPerSecond));
      if (peak > 0) {
        phase = "1:1: half of the peak";
        const ratePerFlow = peak / 2 / busiest.length;
        const perFlow = Math.max(20, Math.round(ratePerFlow * HALF_PEAK_SECONDS));
        progress(`1:1 at half of the peak: ${round2(peak / 2)} messages/s over ${busiest.length} flow(s), ${perFlow} messages each`);
        halfPeak = await runThroughput(meter, "half of the peak", busiest, perFlow, { ratePerSecond: ratePerFlow }, text);
        progress(`1:1 at half of the peak: ack p99 ${String(halfPeak.ackLatencyMs?.p99)} ms`);
        alive();
      }

      phase = "1:1: durable minimum";
      const inFlight = options.window * Math.max(1, options.pairs);
      progress(`durable minimum: ${options.messages} × (Kafka produce acks=all, then Cassandra write at LOCAL_QUORUM), ${inFlight} in flight`);
      durableMinimum = await measureDurableMinimum(
        {
          kafkaBrokers: endpoints.kafkaBrokers,
          cassandraContactPoints: endpoints.cassandraContactPoints,
          cassandraDc: endpoints.cassandraDc,
          keyspace: names.keyspace,
          topic: `${topicPrefix(names.cluster)}bench-durable-minimum`,
        },
        options.messages,
        inFlight,
        text,
      );
      progress(`durable minimum: ${durableMinimum.operationsPerSecond} operations/s`);
      alive();
    }

    // ---- groups ----
    let group: { setup: GroupSetup; warmup: GroupResult; runs: GroupResult[] } | null = null;
    if (options.groupMembers >= 2) {
      progress("group: members alternate between gateway A and B, the owner on A");
      const fixture = await setUpGroup(options.groupMembers, text, {
        ...STALL,
        setPhase: (text) => {
          phase = text;
        },
        connect: (index, userId) => connect(onGateway(index, gatewayA, gatewayB), userId),
      });
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
    const stopped: StopResult[] = await Promise.all(servers.map((s) => s.stop(STOP_TIMEOUT_MS)));
    phase = "cleaning up";
    progress(`removing ${names.keyspace}, topics and groups parley.${names.cluster}.*, bucket ${names.bucket}, Redis keys parley:${names.cluster}:*`);
    const cleaned = await cleanUpOnce();
    phase = "reporting";

    const logs = Object.fromEntries(
      servers.map((s) => [s.label, { warn: s.warnCount, error: s.errorCount, byLevel: Object.fromEntries(s.linesByLevel), first: s.problems.slice(0, 5) }]),
    );
    const lines = [
      "",
      `Parley benchmark, production shape — ${describeEnvironment(env)}`,
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
    if (halfPeak) lines.push(...describeThroughput("1:1 at half of the peak rate, on the flows of the busiest run", halfPeak), "");
    if (durableMinimum) {
      lines.push(
        `Durable minimum, the baseline: Kafka produce (acks=all) then Cassandra write (LOCAL_QUORUM) per message, ${durableMinimum.inFlight} in flight`,
        `  ${durableMinimum.operationsPerSecond} operations/s (${durableMinimum.operations})`,
        describeLatency("latency          ", durableMinimum.latencyMs),
        "",
      );
    }
    const targetInputs: TargetInputs = {
      oneToOnePeak: oneToOne.length === 0 ? null : Math.max(...oneToOne.map((r) => r.acksPerSecond)),
      durableMinimum: durableMinimum?.operationsPerSecond ?? null,
      halfPeakAckP99Ms: halfPeak?.ackLatencyMs?.p99 ?? null,
      groupMembers: group?.setup.members ?? null,
      groupDeliveriesPerSecond: group === null || group.runs.length === 0 ? null : Math.max(...group.runs.map((r) => r.deliveriesPerSecond)),
      groupLoopDelayP99Ms: maxOrNull(group?.runs.flatMap((r) => Object.values(r.phase.eventLoopDelayMs).map((d) => d.p99)) ?? []),
    };
    lines.push(...describeTargets(targetInputs), "");
    if (group) {
      lines.push(describeGroupSetup(group.setup), "");
      for (const r of group.runs) lines.push(...describeGroup(r.label, r), ...describePhase(r.phase), "");
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
        halfPeak,
        durableMinimum,
        targets: targetInputs,
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
