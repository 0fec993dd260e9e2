/**
 * One chaos scenario from start to end: a fresh cluster of `parley serve` processes,
 * four users on two gateways sending direct and group messages at a steady rate, the
 * fault in the middle, then the final sync and history reads and the checker's verdict.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { check, type Observed, type Verdict } from "./checker.js";
import { ChaosUser } from "./chaos-user.js";
import { ChaosCluster } from "./cluster.js";
import { CHAOS_USERS as USERS, FAULTS, KAFKA3_BROKERS } from "./faults.js";
import { REDIS_FAILOVER_NODES } from "./redis-failover.js";
import { longestAckGapMs, medianAckLatencyMs, recoveryMs, Traffic, type Flow } from "./traffic.js";

export interface ScenarioOptions {
  /** Messages per second per flow (four flows). */
  rate: number;
  /** Traffic before the fault. */
  beforeMs: number;
  /** Traffic after the fault is over. */
  afterMs: number;
  /** How long unacked messages are still retried once the traffic stops. */
  drainMs: number;
  requestTimeoutMs: number;
  /** Processes per service (chat, groups, presence, assets); default 1, or more when the fault needs it. */
  replicas?: number;
  log: (text: string) => void;
}

export interface ScenarioResult extends Verdict {
  scenario: string;
  faultMs: number;
  recoveryMs: number | null;
  longestAckGapMs: number;
  sendFailures: number;
  firstFailure: string | null;
  reconnects: number;
  /** Deliveries of one message to one user more than once (inbox or push): allowed, reported. */
  repeatedDeliveries: number;
  problems: string[];
  /** Figures of the fault itself (memory, reconnections) and the latency before and after. */
  notes: string[];
}

/** The window at the end of the traffic whose ack latency is compared with the steady one. */
const LATENCY_WINDOW_MS = 10_000;
/** Reads at the end are retried: a back end may still be settling after the fault. */
const FINAL_READ_TRIES = 10;

export async function runScenario(name: string, options: ScenarioOptions): Promise<ScenarioResult> {
  const fault = FAULTS[name];
  if (fault === undefined) throw new Error(`no scenario ${name}; known: ${Object.keys(FAULTS).join(", ")}`);
  const { log } = options;
  const cluster = new ChaosCluster({
    log,
    replicas: Math.max(options.replicas ?? 1, fault.replicas ?? 1),
    ...(fault.kafka === "three" ? { kafkaBrokers: KAFKA3_BROKERS, kafkaReplicationFactor: 3 } : {}),
    ...(fault.redis === "failover-cluster" ? { redisClusterNodes: REDIS_FAILOVER_NODES } : {}),
  });
  const users: ChaosUser[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  try {
    log(`${name}: starting cluster ${cluster.name} (${String(cluster.replicas)} per service) on Kafka ${cluster.kafkaBrokers} and Redis ${cluster.redis}`);
    await cluster.start();
    USERS.forEach((userId, i) => {
      users.push(
        new ChaosUser({ userId, gateways: () => cluster.gateways(), home: i % 2, token: (id) => cluster.token(id), requestTimeoutMs: options.requestTimeoutMs, log }),
      );
    });
    const [alice, bob, carol, dave] = users as [ChaosUser, ChaosUser, ChaosUser, ChaosUser];
    await Promise.all(users.map((user) => user.connection()));
    const created = await alice.withTimeout("group.create", (client) => client.request({ type: "group.create", name: "chaos", members: ["bob", "carol", "dave"] }));
    const group = { kind: "group" as const, groupId: created.group.groupId, members: [...USERS] };
    const flows: Flow[] = [
      { id: "a2b", from: alice, to: { kind: "direct", userId: "bob" } },
      { id: "d2c", from: dave, to: { kind: "direct", userId: "carol" } },
      { id: "b2g", from: bob, to: group },
      { id: "c2g", from: carol, to: group },
    ];
    const traffic = new Traffic(flows, { rate: options.rate, maxInFlight: 20, prefix: `${cluster.id}-` });
    const trafficStart = performance.now();
    traffic.start();
    await sleep(options.beforeMs);

    log(`${name}: fault`);
    const faultStart = performance.now();
    await fault.inject({ cluster, traffic, rate: options.rate, log, note: (text) => notes.push(text) });
    const faultEnd = performance.now();
    log(`${name}: fault over after ${Math.round(faultEnd - faultStart)} ms`);
    await sleep(options.afterMs);
    const trafficEnd = performance.now();
    await traffic.stop(options.drainMs);
    log(`${name}: traffic stopped; final sync and history reads`);

    const messages = traffic.messages();
    const conversations = new Map<string, Set<string>>();
    for (const message of messages) {
      if (message.ack === undefined) continue;
      for (const userId of [message.senderId, ...message.recipients]) {
        const set = conversations.get(userId) ?? new Set<string>();
        set.add(message.ack.conversationId);
        conversations.set(userId, set);
      }
    }
    const observed = new Map<string, Observed>();
    for (const user of users) {
      const histories = new Map<string, Awaited<ReturnType<ChaosUser["history"]>>>();
      await finalRead(`${user.userId}: sync`, () => user.sync(), log);
      for (const conversationId of conversations.get(user.userId) ?? []) {
        histories.set(conversationId, await finalRead(`${user.userId}: history of ${conversationId}`, () => user.history(conversationId), log));
      }
      observed.set(user.userId, { received: user.received, histories });
    }

    const verdict = check(messages, observed);
    // Latency a user sees (creation to ack, retries included): steady before the fault, and
    // at the end of the traffic, which should be back to it.
    const steady = medianAckLatencyMs(messages, trafficStart, faultStart);
    const atEnd = medianAckLatencyMs(messages, trafficEnd - LATENCY_WINDOW_MS, trafficEnd);
    // None: no message created then was acked, or none was created (every flow at its unacked limit).
    const median = (ms: number | null): string => (ms === null ? "none (no message created then was acked)" : `${String(ms)} ms`);
    notes.push(`median ack latency ${median(steady)} before the fault, ${median(atEnd)} in the last ${String(LATENCY_WINDOW_MS / 1000)} s of traffic`);
    const ackTimes = traffic.ackTimes();
    const failures = traffic.failures();
    const died = cluster.died();
    if (died.length > 0) problems.push(`stopped by themselves: ${died.join(", ")}`);
    return {
      scenario: name,
      ...verdict,
      faultMs: Math.round(faultEnd - faultStart),
      recoveryMs: recoveryMs(ackTimes, faultEnd),
      longestAckGapMs: longestAckGapMs(ackTimes, trafficStart, trafficEnd),
      sendFailures: failures.count,
      firstFailure: failures.first,
      reconnects: users.reduce((sum, user) => sum + user.reconnects, 0),
      repeatedDeliveries: users.reduce((sum, user) => sum + [...user.received.values()].filter((n) => n > 1).length, 0),
      problems,
      notes,
    };
  } finally {
    await Promise.all(users.map((user) => user.close()));
    await cluster.stop();
    const left = await cluster.removeState();
    for (const problem of left) log(`${name}: clean-up: ${problem}`);
  }
}

async function finalRead<T>(what: string, read: () => Promise<T>, log: (text: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= FINAL_READ_TRIES) throw error;
      log(`${what} failed (${error instanceof Error ? error.message : String(error)}); again`);
      await sleep(500);
    }
  }
}
