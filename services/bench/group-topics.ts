#!/usr/bin/env node
/**
 * What a Kafka topic per group costs (issue 14, item 4), on a broker of its own: creates N
 * group topics as Parley names and configures them, in batches, and reports the creation
 * rate, the broker's heap, resident memory, memory maps and open files before and after,
 * how long the fan-out's prefix subscription takes to start over N topics, how long it
 * takes to pick up a group topic another process creates, and how long a second member's
 * join (a rebalance over N topics) takes. Bounded in time; a broker that falls over or a
 * phase that does not finish is the finding, reported, not an error.
 *
 * Never on the shared brokers: it starts its own single broker with hack/servers/kafka.sh
 * (PARLEY_KAFKA_INSTANCE, same version and JVM settings as the shared one) and deletes it
 * and its data afterwards. Heavy: run it under `flock /tmp/parley-chaos.lock`.
 *
 *   node dist/services/bench/group-topics.js --topics 10000 [--partitions 6] [--time-limit 1200]
 */
import { Command } from "commander";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import kafkajs from "kafkajs";
import { ulid } from "ulid";
import { KafkaEventBus } from "../adapters/kafka/kafka-event-bus.js";
import { topicPrefix } from "../events/cluster-names.js";
import { CONSUMER_GROUPS, groupTopic, groupTopics } from "../events/topics.js";
import { wholeNumber } from "./command-line.js";
import { jvmLimits, readJvm, type JvmReading } from "./jvm-readings.js";
import { infraDir } from "./infra-endpoints.js";
import { processAlive } from "./process-stats.js";

interface Options {
  topics: number;
  partitions: number;
  batch: number;
  timeLimit: number;
  phaseTimeout: number;
  instance: string;
  port: number;
  controllerPort: number;
  keepBroker: boolean;
}

const CLUSTER = "bench";
const KAFKA_SH = resolve(fileURLToPath(import.meta.url), "../../../../hack/servers/kafka.sh");
const INFRA_DIR = infraDir();

function kafkaSh(options: Options, command: "up" | "purge"): void {
  execFileSync(KAFKA_SH, [command], {
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
      PARLEY_KAFKA_INSTANCE: options.instance,
      PARLEY_KAFKA_PORT: String(options.port),
      PARLEY_KAFKA_CONTROLLER_PORT: String(options.controllerPort),
    },
  });
}

function brokerPid(options: Options): number {
  return Number(readFileSync(join(INFRA_DIR, `kafka-${options.instance}`, "kafka.pid"), "utf8").trim());
}

/** The broker's last lines that say why it failed (too many open files, maps, heap). */
function brokerErrors(options: Options): string[] {
  const dir = join(INFRA_DIR, `kafka-${options.instance}`);
  const lines: string[] = [];
  for (const file of ["server.log", "kafka.out"]) {
    try {
      lines.push(...readFileSync(join(dir, file), "utf8").split("\n").filter((line) => /ERROR|FATAL|OutOfMemory|Too many open files|Map failed/.test(line)));
    } catch {
      // not written
    }
  }
  return [...new Set(lines.map((line) => line.slice(0, 240)))].slice(-5);
}

/** `work` or, after `ms`, undefined: a phase that does not finish is a figure too. */
async function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function seconds(ms: number | undefined, limitMs: number): string {
  return ms === undefined ? `not within ${String(limitMs / 1000)} s` : `${(ms / 1000).toFixed(2)} s`;
}

function describe(reading: JvmReading | undefined): string {
  if (!reading) return "broker gone";
  const mib = (n: number): string => `${n.toFixed(0)} MiB`;
  return `heap used ${mib(reading.heapUsedMiB)}, live after full GC ${mib(reading.liveHeapMiB)} of ${mib(reading.heapCapacityMiB)}, RSS ${mib(reading.rssMiB)}, memory maps ${String(reading.memoryMaps)}, open files ${String(reading.openFiles)}`;
}

function readIfAlive(pid: number): JvmReading | undefined {
  if (!processAlive(pid)) return undefined;
  try {
    return readJvm(pid);
  } catch {
    return undefined;
  }
}

/**
 * Creates the group topics in batches, as Parley configures them; stops at the time limit
 * or the first failure. A batch is done when the controller accepted it (kafkajs's
 * waitForLeaders asks for the new topics' metadata and gets "unknown topic" while the
 * broker still creates their partitions): the time ends when the last topic has a leader,
 * and the broker applies the metadata in order, so then every topic has one.
 */
async function createTopics(kafka: kafkajs.Kafka, options: Options, pid: number): Promise<{ created: number; ms: number; failure?: string }> {
  const started = performance.now();
  const deadline = started + options.timeLimit * 1000;
  const admin = kafka.admin();
  await admin.connect();
  let created = 0;
  let last = "";
  let lastProgress = 0;
  let failure: string | undefined;
  try {
    while (created < options.topics && failure === undefined) {
      if (performance.now() > deadline) {
        failure = `time limit of ${String(options.timeLimit)} s reached`;
        break;
      }
      const count = Math.min(options.batch, options.topics - created);
      const topics = Array.from({ length: count }, () => ({
        topic: groupTopic(CLUSTER, `g${ulid()}`, "per-group").name,
        numPartitions: options.partitions,
        replicationFactor: 1,
        // What KafkaEventBus sets on the topics it creates, with one replica.
        configEntries: [{ name: "min.insync.replicas", value: "1" }],
      }));
      for (let attempt = 1; ; attempt++) {
        try {
          // "Already exists" (a batch tried again after a timeout) is not an error here.
          await admin.createTopics({ topics, waitForLeaders: false });
          break;
        } catch (error) {
          const retriable = (error as { retriable?: boolean }).retriable === true;
          if (!processAlive(pid)) failure = "the broker exited";
          else if (!retriable || attempt >= 3) failure = error instanceof Error ? error.message : String(error);
          if (failure !== undefined) break;
        }
      }
      if (failure !== undefined) break;
      created += count;
      last = topics[topics.length - 1]?.topic ?? last;
      if (performance.now() - lastProgress > 5000 || created === options.topics) {
        lastProgress = performance.now();
        const elapsed = (lastProgress - started) / 1000;
        process.stderr.write(`  ${String(created)} / ${String(options.topics)} topics accepted in ${elapsed.toFixed(0)} s (${(created / elapsed).toFixed(0)}/s)\n`);
      }
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (last !== "") failure ??= await leaderElected(kafka, last, deadline, pid, options);
  return { created, ms: performance.now() - started, failure };
}

/** A broker that creates fewer partition logs than this in a minute has stalled (full GCs). */
const STALL_MS = 60_000;
const STALL_MIN_LOGS = 100;

/** Partition logs the broker has created so far: one directory each in its data directory. */
function partitionLogs(options: Options): number {
  try {
    return readdirSync(join(INFRA_DIR, `kafka-${options.instance}`, "data")).filter((name) => name.startsWith(groupTopics(CLUSTER).prefix)).length;
  } catch {
    return 0;
  }
}

/**
 * Polls the topic's metadata (a fresh admin client each time: kafkajs's keeps failing
 * after an unknown topic) until its partitions have leaders; reports the partition logs
 * created meanwhile, and gives up when fewer than STALL_MIN_LOGS appeared in STALL_MS.
 */
async function leaderElected(kafka: kafkajs.Kafka, topic: string, deadline: number, pid: number, options: Options): Promise<string | undefined> {
  let logs = partitionLogs(options);
  let windowLogs = logs;
  let windowAt = performance.now();
  let reportedAt = 0;
  while (performance.now() < deadline && processAlive(pid)) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      if (topics[0]?.partitions.every((partition) => partition.leader >= 0) === true) return undefined;
    } catch {
      // not there yet
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const now = performance.now();
    logs = partitionLogs(options);
    if (now - windowAt > STALL_MS) {
      if (logs - windowLogs < STALL_MIN_LOGS) {
        return `the broker stalled: ${String(logs - windowLogs)} partition logs in the last ${String(STALL_MS / 1000)} s, ${String(logs)} of ${String(options.topics * options.partitions)} created`;
      }
      [windowLogs, windowAt] = [logs, now];
    }
    if (now - reportedAt > 10_000) {
      reportedAt = now;
      process.stderr.write(`  broker: ${String(logs)} of ${String(options.topics * options.partitions)} partition logs created\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return processAlive(pid) ? "the last topic had no leader by the time limit" : "the broker exited";
}

async function connectBus(options: Options, clientId: string): Promise<KafkaEventBus> {
  return KafkaEventBus.connect({
    brokers: [`127.0.0.1:${String(options.port)}`],
    clientId,
    groupPrefix: topicPrefix(CLUSTER),
    partitions: options.partitions,
    replicationFactor: 1,
    onHandlerError: (error) => {
      console.error("handler failed:", error);
    },
  });
}

async function run(options: Options): Promise<void> {
  console.log(`group topics: ${String(options.topics)} topics of ${String(options.partitions)} partition(s), batches of ${String(options.batch)}, at most ${String(options.timeLimit)} s of creation`);
  kafkaSh(options, "purge");
  kafkaSh(options, "up");
  const pid = brokerPid(options);
  const limits = jvmLimits(pid);
  console.log(`broker pid ${String(pid)} on 127.0.0.1:${String(options.port)}; kernel bounds: vm.max_map_count ${String(limits.maxMapCount)}, open files ${String(limits.openFilesLimit)}`);
  const before = readIfAlive(pid);
  console.log(`before: ${describe(before)}`);

  const kafka = new kafkajs.Kafka({ clientId: "group-topics-bench", brokers: [`127.0.0.1:${String(options.port)}`], logLevel: kafkajs.logLevel.NOTHING });
  const creation = await createTopics(kafka, options, pid);
  const rate = creation.created / (creation.ms / 1000);
  console.log(`created: ${String(creation.created)} topics (${String(creation.created * options.partitions)} partitions) in ${(creation.ms / 1000).toFixed(1)} s = ${rate.toFixed(0)} topics/s${creation.failure ? `; stopped: ${creation.failure}` : ""}`);
  const after = readIfAlive(pid);
  console.log(`after creation: ${describe(after)}`);
  const logs = partitionLogs(options);
  if (before && after && logs > 0) {
    const per = (delta: number): string => ((delta * 1000) / logs).toFixed(1);
    console.log(
      `per 1,000 partitions (${String(logs)} partition logs on the broker): live heap +${per(after.liveHeapMiB - before.liveHeapMiB)} MiB, RSS +${per(after.rssMiB - before.rssMiB)} MiB, open files +${per(after.openFiles - before.openFiles)}, memory maps +${per(after.memoryMaps - before.memoryMaps)}`,
    );
  }

  // Consumers of a broker that could not create the topics would only time out.
  if (creation.failure !== undefined) console.log("consumers: not measured, the topics were not all created");
  else await measureConsumers(options, pid);
  for (const line of brokerErrors(options)) console.log(`broker log: ${line}`);
  if (options.keepBroker) console.log(`kept the broker: PARLEY_KAFKA_INSTANCE=${options.instance} hack/servers/kafka.sh purge deletes it`);
  else kafkaSh(options, "purge");
}

/**
 * The fan-out's consumer over N topics: how long its prefix subscription takes to start,
 * to pick up a group topic another groups process creates (the bus lists topics every
 * 5 s and restarts the consumer with the new list), and how long a second member's join
 * takes (a rebalance of every partition).
 */
async function measureConsumers(options: Options, pid: number): Promise<void> {
  const limitMs = options.phaseTimeout * 1000;
  const family = { prefix: groupTopics(CLUSTER).prefix };
  const buses: KafkaEventBus[] = [];
  const arrivals = new Map<string, () => void>();
  const arrived = (key: string): Promise<void> => new Promise((resolve) => arrivals.set(key, resolve));
  const handler = (event: { key: string }): void => arrivals.get(event.key)?.();
  try {
    const fanout = await connectBus(options, "fanout-1");
    buses.push(fanout);
    let started = performance.now();
    const subscribed = await within(limitMs, fanout.subscribe(family, CONSUMER_GROUPS.fanout, handler));
    console.log(`prefix subscription over ${String(options.topics)} topics started in ${seconds(subscribed ? performance.now() - started : undefined, limitMs)}`);
    if (!subscribed) return;

    const publisher = await connectBus(options, "groups-2");
    buses.push(publisher);
    const key = `g${ulid()}`;
    const received = arrived(key);
    started = performance.now();
    await publisher.publish(groupTopic(CLUSTER, key, "per-group").name, key, { n: 1 });
    const published = performance.now() - started;
    const pickedUp = await within(limitMs, received.then(() => performance.now() - started));
    console.log(`new group topic (created by another process): published in ${seconds(published, limitMs)}, first message received after ${seconds(pickedUp, limitMs)}`);

    const second = await connectBus(options, "fanout-2");
    buses.push(second);
    started = performance.now();
    const joined = await within(limitMs, second.subscribe(family, CONSUMER_GROUPS.fanout, handler));
    console.log(`rebalance: a second fan-out member joined in ${seconds(joined ? performance.now() - started : undefined, limitMs)}`);
    console.log(`with consumers: ${describe(readIfAlive(pid))}`);
  } catch (error) {
    console.log(`consumers: failed: ${error instanceof Error ? error.message : String(error)}${processAlive(pid) ? "" : " (the broker exited)"}`);
  } finally {
    await within(60_000, Promise.allSettled(buses.map((bus) => bus.close())));
  }
}

const program = new Command()
  .name("group-topics")
  .description("what N Kafka group topics cost, on a broker of its own (never the shared one); deletes it afterwards")
  .option("--topics <n>", "group topics to create", wholeNumber(1, 1_000_000), 10_000)
  .option("--partitions <n>", "partitions per group topic (PARLEY_KAFKA_PARTITIONS; Parley's default 6)", wholeNumber(1, 1000), 6)
  .option("--batch <n>", "topics per CreateTopics request", wholeNumber(1, 10_000), 200)
  .option("--time-limit <seconds>", "stop creating topics after this long", wholeNumber(1, 86_400), 1200)
  .option("--phase-timeout <seconds>", "longest wait for each consumer phase", wholeNumber(1, 3600), 300)
  .option("--instance <name>", "hack/servers/kafka.sh instance (PARLEY_KAFKA_INSTANCE) to start and delete", "group-topics")
  .option("--port <port>", "its broker port", wholeNumber(1024, 32767), 29192)
  .option("--controller-port <port>", "its controller port", wholeNumber(1024, 32767), 29193)
  .option("--keep-broker", "leave the broker and its data for a look afterwards", false)
  .action(async (options: Options) => {
    try {
      await run(options);
    } finally {
      // kafkajs's timers may outlive a phase that did not finish.
      setTimeout(() => process.exit(), 1000).unref();
    }
  });

await program.parseAsync();
