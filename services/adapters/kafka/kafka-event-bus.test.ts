import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import kafkajs from "kafkajs";
import type { Admin } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { describeEventBusContract } from "../../ports/contract/event-bus.contract.js";
import type { BusEvent, EventBus, JsonValue } from "../../ports/event-bus.js";
import { infraEndpoint } from "../../testing/infra.js";
import { KafkaEventBus, type KafkaEventBusOptions } from "./kafka-event-bus.js";
import { deleteGroupsWithPrefix, deleteTopicsWithPrefix, ensureTopic, topicConfigs } from "./topic-admin.js";

// A real broker is slower than memory: group joins and rebalances take seconds.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const brokers = infraEndpoint("PARLEY_TEST_KAFKA_BROKERS").split(",");
/** Every topic and group of this run starts with it, so runs (and test files) never meet. */
const run = `test-${randomUUID().slice(0, 8)}`;
let fixtures = 0;

function options(namespace: string, overrides: Partial<KafkaEventBusOptions> = {}): KafkaEventBusOptions {
  return {
    brokers,
    clientId: namespace,
    topicPrefix: `${namespace}.`,
    groupPrefix: `${namespace}.`,
    partitions: 3,
    replicationFactor: 1,
    // The test broker allows short sessions; members notice rebalances within half a second.
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
    maxWaitTimeMs: 500,
    topicRefreshMs: 1000,
    onHandlerError: () => undefined,
    // Background failures are not expected here; shown, they explain a failing test.
    onError: (error, context) => {
      console.error(`kafka bus (${namespace}): ${context}`, error);
    },
    ...overrides,
  };
}

let admin: Admin;

beforeAll(async () => {
  admin = new kafkajs.Kafka({ clientId: run, brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
});

afterAll(async () => {
  await deleteGroupsWithPrefix(admin, run);
  await deleteTopicsWithPrefix(admin, run);
  await admin.disconnect();
});

/** Removes what a namespace left on the broker: its groups (once empty) and topics. */
async function removeNamespace(namespace: string): Promise<void> {
  await deleteGroupsWithPrefix(admin, `${namespace}.`);
  await deleteTopicsWithPrefix(admin, `${namespace}.`);
}

describeEventBusContract("KafkaEventBus", async () => {
  const namespace = `${run}-c${++fixtures}`;
  const bus = await KafkaEventBus.connect(options(namespace));
  return {
    bus,
    cleanup: async () => {
      await bus.close();
      await removeNamespace(namespace);
    },
  };
});

/** Collects a subscription's events; `atLeast(n)` resolves once n have arrived. */
function collector(): { events: BusEvent[]; handler: (event: BusEvent) => void; atLeast: (count: number) => Promise<BusEvent[]> } {
  const events: BusEvent[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    events,
    handler: (event) => {
      events.push(event);
      for (const waiter of waiters.filter((w) => events.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    },
    atLeast: (count) =>
      events.length >= count
        ? Promise.resolve(events)
        : new Promise((resolve) => {
            waiters.push({
              count,
              resolve: () => {
                resolve(events);
              },
            });
          }),
  };
}

describe("KafkaEventBus on a real broker", () => {
  let namespace: string;
  const buses: EventBus[] = [];

  async function openBus(overrides: Partial<KafkaEventBusOptions> = {}): Promise<KafkaEventBus> {
    const bus = await KafkaEventBus.connect(options(namespace, overrides));
    buses.push(bus);
    return bus;
  }

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
    await removeNamespace(namespace);
  });

  it("replays an event to the group when its consumer crashes before committing it", async () => {
    namespace = `${run}-crash`;
    const bus = await openBus();
    // A short session: the group notices the dead member after 3 s instead of 6.
    const child = spawnCrashingSubscriber(options(namespace, { sessionTimeoutMs: 3000 }), "orders", "billing");
    await child.line("subscribed");
    await bus.publish("orders", "order-1", { order: 1 });
    // The child got the event and died (SIGKILL) inside its handler: nothing committed.
    expect(await child.line("got")).toBe('got {"order":1}');
    expect(await child.exited).toBe("SIGKILL");

    const survivor = collector();
    await bus.subscribe("orders", "billing", survivor.handler);
    expect(await survivor.atLeast(1)).toEqual([{ topic: "orders", key: "order-1", value: { order: 1 } }]);
  });

  it("by default, gives a member's partitions to the rest of its group within seconds of the member dying without leaving", async () => {
    namespace = `${run}-dead-member`;
    const bus = await openBus();
    // The dead member's session timeout is what the group waits out: the bus's default here.
    const child = spawnCrashingSubscriber(options(namespace, { sessionTimeoutMs: undefined }), "orders", "billing");
    await child.line("subscribed");
    await bus.publish("orders", "order-1", { order: 1 });
    await child.exited;
    const died = Date.now();

    const survivor = collector();
    await bus.subscribe("orders", "billing", survivor.handler);
    await survivor.atLeast(1);
    // kafkajs's 30 s default held the partitions for half a minute after every crash.
    expect(Date.now() - died).toBeLessThan(15_000);
  });

  it("reports a subscription's consumer lag: the events not yet handled, 0 once caught up, none after it stops", async () => {
    namespace = `${run}-lag`;
    const reports: { group: string; lag: number | undefined }[] = [];
    const bus = await openBus({
      onConsumerLag: (group, lag) => {
        reports.push({ group, lag });
      },
    });
    // The group's offsets are set by a first visit, so the events published while it is away wait for it.
    await (await bus.subscribe("jobs", "workers", () => undefined)).unsubscribe();
    for (let n = 1; n <= 5; n++) await bus.publish("jobs", "same-key", n);
    reports.length = 0;

    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const handled = collector();
    const subscription = await bus.subscribe("jobs", "workers", async (event) => {
      handled.handler(event);
      await released;
    });
    await handled.atLeast(1);
    // Held in the first event's handler: all five are still to handle.
    expect(reports.at(-1)).toEqual({ group: `${namespace}.workers@jobs`, lag: 5 });
    release();
    await handled.atLeast(5);
    await vi.waitFor(() => {
      expect(reports.at(-1)?.lag).toBe(0);
    });
    const lags = reports.map((r) => r.lag);
    expect(lags.slice(lags.indexOf(5))).toEqual([5, 4, 3, 2, 1, 0]);

    await subscription.unsubscribe();
    expect(reports.at(-1)).toEqual({ group: `${namespace}.workers@jobs`, lag: undefined });
  });

  it("starts a new group after the events already there, and a returning group where it left off", async () => {
    namespace = `${run}-resume`;
    const bus = await openBus();
    await bus.publish("audit", "k", "history");

    const first = collector();
    const subscription = await bus.subscribe("audit", "auditor", first.handler);
    await bus.publish("audit", "k", "live 1");
    await first.atLeast(1);
    await subscription.unsubscribe();

    await bus.publish("audit", "k", "while away");
    const back = collector();
    await bus.subscribe("audit", "auditor", back.handler);
    await bus.publish("audit", "k", "live 2");
    await back.atLeast(2);
    expect(first.events.map((e) => e.value)).toEqual(["live 1"]);
    expect(back.events.map((e) => e.value)).toEqual(["while away", "live 2"]);
  });

  it("keeps order per key when many publishes are in flight at once", async () => {
    namespace = `${run}-burst`;
    const bus = await openBus();
    const received = collector();
    await bus.subscribe("burst", "g", received.handler);
    await Promise.all(Array.from({ length: 300 }, (_, n) => bus.publish("burst", `key-${n % 5}`, n)));
    await received.atLeast(300);
    for (let k = 0; k < 5; k++) {
      const values = received.events.filter((e) => e.key === `key-${k}`).map((e) => e.value as number);
      expect(values).toEqual(Array.from({ length: 60 }, (_, i) => i * 5 + k));
    }
  });

  it("gives a prefix subscription the topics another process creates later", async () => {
    namespace = `${run}-prefix`;
    const subscriber = await openBus();
    const other = await openBus();
    const received = collector();
    await subscriber.subscribe({ prefix: "rooms." }, "fanout", received.handler);
    await other.publish("rooms.r1", "k", "first room");
    await other.publish("rooms.r2", "k", "second room");
    await received.atLeast(2);
    expect(received.events.map((e) => [e.topic, e.value]).sort()).toEqual([
      ["rooms.r1", "first room"],
      ["rooms.r2", "second room"],
    ]);
  });

  it("creates the topics a prefix subscription names before it starts, so it reads another process's first events on them without waiting for a refresh", async () => {
    namespace = `${run}-prefix-create`;
    // No refresh within the test: only the topics there at the start can be read.
    const subscriber = await openBus({ topicRefreshMs: 600_000 });
    const other = await openBus();
    const received = collector();
    await subscriber.subscribe({ prefix: "shards.", create: ["shards.0", "shards.1"] }, "fanout", received.handler);
    await other.publish("shards.1", "k", "first on shard 1");
    await received.atLeast(1);
    expect(received.events.map((e) => [e.topic, e.value])).toEqual([["shards.1", "first on shard 1"]]);
  });

  it("retries a failing handler the configured number of times, then reports the event and moves on", async () => {
    namespace = `${run}-retry`;
    const reported: [unknown, BusEvent][] = [];
    const bus = await openBus({ handlerAttempts: 3, handlerRetryDelayMs: 10, onHandlerError: (error, event) => reported.push([error, event]) });
    const tries: JsonValue[] = [];
    const received = collector();
    await bus.subscribe("jobs", "worker", (event) => {
      tries.push(event.value);
      if (event.value === "flaky" && tries.filter((v) => v === "flaky").length < 3) throw new Error("not yet");
      if (event.value === "broken") throw new Error("never");
      received.handler(event);
    });
    for (const value of ["flaky", "broken", "fine"]) await bus.publish("jobs", "k", value);
    await received.atLeast(2);
    expect(received.events.map((e) => e.value)).toEqual(["flaky", "fine"]);
    expect(tries).toEqual(["flaky", "flaky", "flaky", "broken", "broken", "broken", "fine"]);
    expect(reported).toHaveLength(1);
    expect((reported[0]?.[0] as Error).message).toBe("never");
    expect(reported[0]?.[1]).toEqual({ topic: "jobs", key: "k", value: "broken" });
  });

  it("keeps publishing after someone deletes a topic it used, creating that topic again when needed", async () => {
    namespace = `${run}-deleted`;
    // (kafkajs clients fail for every topic once one they used is gone; the bus replaces them.)
    const bus = await openBus({ publishRetries: 2 });
    const received = collector();
    await bus.subscribe("kept", "g", received.handler);
    await bus.publish("doomed", "k", "before");
    await bus.publish("kept", "k", "one");
    expect(await deleteTopicsWithPrefix(admin, `${namespace}.doomed`)).toEqual([`${namespace}.doomed`]);

    await bus.publish("kept", "k", "two");
    await bus.publish("fresh", "k", "a topic created after the deletion");
    await bus.publish("doomed", "k", "after");
    await received.atLeast(2);
    expect(received.events.map((e) => e.value)).toEqual(["one", "two"]);
    expect(await admin.listTopics()).toEqual(expect.arrayContaining([`${namespace}.doomed`, `${namespace}.fresh`]));
  });

  it("refuses to publish once closed", async () => {
    namespace = `${run}-closed`;
    const bus = await KafkaEventBus.connect(options(namespace));
    await bus.close();
    await expect(bus.publish("t", "k", 1)).rejects.toThrow("event bus is closed");
  });
});

describe("topic admin on a real broker", () => {
  const prefix = `${run}-admin.`;

  afterAll(async () => {
    await deleteTopicsWithPrefix(admin, prefix);
  });

  it("creates a topic, then grows its partitions and fixes its configs, keeping its other overrides", async () => {
    const topic = `${prefix}grow`;
    const created = await ensureTopic(admin, topic, 2, 1, { "retention.ms": "3600000", "cleanup.policy": "delete" });
    expect(created).toMatchObject({ created: true, partitions: 2, replicationFactor: 1 });

    const grown = await ensureTopic(admin, topic, 5, 1, { "retention.ms": "7200000" });
    expect(grown).toEqual({ created: false, partitionsBefore: 2, partitions: 5, replicationFactor: 1, changedConfigs: ["retention.ms"] });
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]?.partitions).toHaveLength(5);
    expect(await topicConfigs(admin, topic)).toEqual({ "retention.ms": "7200000", "cleanup.policy": "delete" });

    // Already as asked: nothing to do. Fewer partitions asked: Kafka cannot shrink, it stays.
    expect(await ensureTopic(admin, topic, 3, 1, { "retention.ms": "7200000" })).toEqual({
      created: false,
      partitionsBefore: 5,
      partitions: 5,
      replicationFactor: 1,
      changedConfigs: [],
    });
  });

  it("deletes the topics under a prefix, and only those", async () => {
    await ensureTopic(admin, `${prefix}del.a`, 1, 1);
    await ensureTopic(admin, `${prefix}del.b`, 1, 1);
    await ensureTopic(admin, `${prefix}keep`, 1, 1);
    expect((await deleteTopicsWithPrefix(admin, `${prefix}del.`)).sort()).toEqual([`${prefix}del.a`, `${prefix}del.b`]);
    await expect(deleteTopicsWithPrefix(admin, "")).rejects.toThrow("empty");
  });
});

const BUS_MODULE = fileURLToPath(new URL("../../../dist/services/adapters/kafka/kafka-event-bus.js", import.meta.url));

/**
 * Runs the built bus in another process that subscribes `group` to `topic` and, on the
 * first event, prints it and kills itself with SIGKILL: a crash in the middle of a handler.
 */
function spawnCrashingSubscriber(
  busOptions: KafkaEventBusOptions,
  topic: string,
  group: string,
): { line: (prefix: string) => Promise<string>; exited: Promise<number | NodeJS.Signals> } {
  const serializable: Partial<KafkaEventBusOptions> = { ...busOptions };
  delete serializable.onHandlerError;
  const script = `
    const { KafkaEventBus } = await import(${JSON.stringify(BUS_MODULE)});
    const bus = await KafkaEventBus.connect({ ...${JSON.stringify(serializable)}, onHandlerError: () => {} });
    await bus.subscribe(${JSON.stringify(topic)}, ${JSON.stringify(group)}, (event) => {
      process.stdout.write("got " + JSON.stringify(event.value) + "\\n", () => process.kill(process.pid, "SIGKILL"));
      return new Promise(() => {});
    });
    console.log("subscribed");
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = once(child, "exit").then(([code, signal]) => (code ?? signal) as number | NodeJS.Signals);
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line);
    for (const waiter of waiters.filter((w) => line.startsWith(w.prefix))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  return {
    line: (prefix) => {
      const seen = lines.find((line) => line.startsWith(prefix));
      if (seen !== undefined) return Promise.resolve(seen);
      return Promise.race([
        new Promise<string>((resolve) => waiters.push({ prefix, resolve })),
        exited.then((code) => Promise.reject(new Error(`the subscriber exited (${String(code)}) before printing "${prefix}"`))),
      ]);
    },
    exited,
  };
}
