/**
 * The faults of the chaos scenarios, each a bounded action on a real back end or a
 * process, through the hack/ scripts that run the back ends: it returns when the fault is
 * over (the server is back, the rule removed), and the scenario measures from there.
 */
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { replica, SERVICES, type ChaosCluster } from "./cluster.js";
import { masterOfMostTags, promotedFor, roleOf } from "./redis-failover.js";
import { StormClients, stormClientsThatFit } from "./reconnect-storm.js";
import type { Traffic } from "./traffic.js";
import { infraDir } from "../bench/infra-endpoints.js";
import { processAlive } from "../bench/process-stats.js";

const run = promisify(execFile);
const HACK = join(import.meta.dirname, "..", "..", "..", "hack");
const INFRA_DIR = infraDir();

/** The three-node Kafka of `hack/servers/kafka.sh up 3`. */
export const KAFKA3_BROKERS = "127.0.0.1:29112,127.0.0.1:29122,127.0.0.1:29132";

export interface FaultContext {
  cluster: ChaosCluster;
  traffic: Traffic;
  /** The steady offered rate (messages per second per flow). */
  rate: number;
  log: (text: string) => void;
  /** A figure for the result's notes (what the fault itself measured). */
  note: (text: string) => void;
}

/** The spike: the offered rate ×10 for 30 s, then back (issue 13). */
const SPIKE_FACTOR = 10;
const SPIKE_MS = 30_000;
/** The clients of the reconnect storm, as many as the file limit lets this process hold. */
const STORM_CLIENTS = Number(process.env.PARLEY_CHAOS_STORM_CLIENTS ?? "20000");
const STORM_RECONNECT_TIMEOUT_MS = 180_000;
/** The soak's length: 30 minutes, or PARLEY_CHAOS_SOAK_MINUTES. */
const SOAK_MS = Number(process.env.PARLEY_CHAOS_SOAK_MINUTES ?? "30") * 60_000;

export interface Fault {
  /** Runs the fault and returns once it is over. */
  inject: (context: FaultContext) => Promise<void>;
  /** Which Kafka the scenario's processes use. */
  kafka: "single" | "three";
  /** Which Redis they use: the shared standalone server (default) or the failover cluster of `hack/servers/redis.sh up failover`. */
  redis?: "standalone" | "failover-cluster";
  /** The fewest replicas per service the fault needs (a run with `--replicas` below it gets this many). */
  replicas?: number;
}

/** The users of every scenario (scenario.ts), whose keys the Redis adapters keep under the hash tag `{<userId>}`. */
export const CHAOS_USERS = ["alice", "bob", "carol", "dave"] as const;
/** A replica is promoted after the failover cluster's node timeout (2 s) and an election; far past that is a failure. */
const PROMOTION_TIMEOUT_MS = 60_000;

async function script(args: string[], log: (text: string) => void): Promise<void> {
  const [path, ...rest] = args;
  if (path === undefined) throw new Error("no script");
  log(`$ hack/${path} ${rest.join(" ")}`);
  await run(join(HACK, path), rest, { timeout: 300_000 });
}

/** SIGKILL to the pid in a back end's pid file (a crash, no clean shutdown); resolves once it is gone. */
async function killPidFile(relative: string, log: (text: string) => void): Promise<void> {
  const pid = Number(readFileSync(join(INFRA_DIR, relative), "utf8").trim());
  log(`kill -9 ${pid} (${relative})`);
  process.kill(pid, "SIGKILL");
  // Not our child, so no exit event: polled, until the start script would not see it running.
  while (processAlive(pid)) await sleep(20);
}

/** Removes the partition's iptables rules, synchronously: also from exit and signal handlers. */
export function healPartition(): void {
  execFileSync(join(HACK, "chaos", "partition.sh"), ["heal"], { stdio: "ignore" });
}

export const FAULTS: Record<string, Fault> = {
  "kafka-restart": {
    kafka: "single",
    inject: async ({ log }) => {
      // A clean stop and start: the broker's outage is the time its JVM takes to come back.
      await script(["servers/kafka.sh", "down"], log);
      await script(["servers/kafka.sh", "up"], log);
    },
  },
  "kafka3-broker-lost": {
    kafka: "three",
    inject: async ({ log }) => {
      await killPidFile("kafka3/node-1/kafka.pid", log);
      // Node 1 stays away long enough for the producers and the group coordinator to move.
      await sleep(10_000);
      await script(["servers/kafka.sh", "up", "3"], log);
    },
  },
  "redis-restart": {
    kafka: "single",
    inject: async ({ log }) => {
      // Nothing is persisted (hack/servers/redis.sh): the restarted Redis is empty.
      await killPidFile("redis/standalone/redis.pid", log);
      await script(["servers/redis.sh", "up"], log);
    },
  },
  "redis-cluster-failover": {
    kafka: "single",
    redis: "failover-cluster",
    inject: async ({ log, note }) => {
      // The master of most of the users' keys (routes, presence), so the traffic's lookups and writes move with it.
      const { node: victim, slots } = await masterOfMostTags(CHAOS_USERS);
      log(`the master 127.0.0.1:${victim.port} serves the slots ${slots.join(", ")} of the users' keys`);
      const killedAt = performance.now();
      await killPidFile(`redis/failover-${victim.port}/redis.pid`, log);
      const promoted = await promotedFor(victim, slots[0] ?? 0, PROMOTION_TIMEOUT_MS);
      const promotedSeconds = ((performance.now() - killedAt) / 1000).toFixed(1);
      log(`127.0.0.1:${promoted.port} took over the slots ${promotedSeconds} s after the kill`);
      // Starts the killed node again; returns once it follows the promoted one as a replica.
      await script(["servers/redis.sh", "up", "failover"], log);
      const role = await roleOf(victim.port);
      note(
        `master 127.0.0.1:${victim.port} (slots of ${slots.length} of ${CHAOS_USERS.length} users) killed; its replica 127.0.0.1:${promoted.port} promoted and the cluster ok ${promotedSeconds} s later; ` +
          `the killed node back as ${role === "slave" ? "a replica" : `role ${role ?? "unknown"}`} ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill`,
      );
    },
  },
  "cassandra-restart": {
    kafka: "single",
    inject: async ({ log }) => {
      await script(["servers/cassandra.sh", "down"], log);
      await script(["servers/cassandra.sh", "up"], log);
    },
  },
  "process-kill": {
    kafka: "single",
    inject: async ({ cluster }) => {
      cluster.kill("gateway-a");
      cluster.kill("chat-1");
      cluster.kill("groups-1");
      // Started again at once, as a Deployment's controller replaces a dead pod.
      await Promise.all([cluster.startRole("gateway-a"), cluster.startRole("chat-1"), cluster.startRole("groups-1")]);
    },
  },
  "chat-kill": {
    kafka: "single",
    inject: async ({ cluster }) => {
      cluster.kill("chat-1");
      await cluster.startRole("chat-1");
    },
  },
  "replica-kill": {
    kafka: "single",
    replicas: 2,
    inject: ({ cluster }) => {
      // One replica of each service at once, not started again: the survivors take over
      // their partitions after the Kafka session timeout (ADR 0011, what a replica's death costs).
      for (const service of SERVICES) cluster.kill(replica(service, 1));
      return Promise.resolve();
    },
  },
  spike: {
    kafka: "single",
    inject: async ({ traffic, rate, cluster, log, note }) => {
      log(`offered rate ${rate * SPIKE_FACTOR}/s per flow for ${SPIKE_MS / 1000} s`);
      const rssBefore = cluster.rssMb();
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, cluster.rssMb())), 1_000);
      traffic.setRate(rate * SPIKE_FACTOR);
      await sleep(SPIKE_MS);
      traffic.setRate(rate);
      clearInterval(sampler);
      note(`spike ×${SPIKE_FACTOR} for ${SPIKE_MS / 1000} s: RSS of all processes ${rssBefore} MB before, peak ${rssPeak} MB`);
    },
  },
  "reconnect-storm": {
    kafka: "single",
    inject: async ({ cluster, log, note }) => {
      const count = stormClientsThatFit(STORM_CLIENTS);
      const storm = new StormClients({ count, gateways: () => cluster.gateways(), token: (userId) => cluster.token(userId) });
      try {
        const connecting = performance.now();
        await storm.connectAll();
        log(`${count} storm clients connected to gateway-a in ${Math.round(performance.now() - connecting)} ms`);
        const rssBefore = cluster.rssMb();
        cluster.kill("gateway-a");
        const killedAt = performance.now();
        await cluster.startRole("gateway-a");
        const back = await storm.allConnected(STORM_RECONNECT_TIMEOUT_MS);
        const seconds = ((performance.now() - killedAt) / 1000).toFixed(1);
        note(
          `${count} storm clients (of ${STORM_CLIENTS} asked; the file limit): ${back ? `all back ${seconds} s after the kill` : `${storm.connected()} back after ${seconds} s`}, ` +
            `${storm.failedAttempts} refused or failed attempts; RSS ${rssBefore} MB before, ${cluster.rssMb()} MB after`,
        );
      } finally {
        await storm.close();
      }
    },
  },
  soak: {
    kafka: "single",
    inject: async ({ cluster, log, note }) => {
      const samples: number[] = [cluster.rssMb()];
      const until = performance.now() + SOAK_MS;
      while (performance.now() < until) {
        await sleep(Math.min(60_000, until - performance.now()));
        samples.push(cluster.rssMb());
        log(`soak: RSS of all processes ${samples.at(-1) ?? 0} MB`);
      }
      note(`soak ${SOAK_MS / 60_000} min: RSS of all processes per minute ${samples.join(", ")} MB`);
    },
  },
  "kafka-partition": {
    // On the three-node Kafka, which only this run uses: dropping the single broker's
    // packets would stall every other test on the machine for the same 10 s.
    kafka: "three",
    inject: async ({ log }) => {
      const ports = KAFKA3_BROKERS.split(",").map((broker) => broker.split(":")[1] ?? "");
      try {
        await script(["chaos/partition.sh", "block", ...ports], log);
        await sleep(10_000);
      } finally {
        healPartition();
        log("partition healed");
      }
    },
  },
};
