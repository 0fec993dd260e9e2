#!/usr/bin/env node
/**
 * Events per second through KafkaEventBus, publish -> subscriber, against a real broker:
 *   node dist/services/bench/kafka-bus-bench.js [--brokers 127.0.0.1:29092] [--events 20000] [--in-flight 1000]
 * The brokers default to hack/infra.sh's (PARLEY_TEST_KAFKA_BROKERS, else its endpoints.env).
 * First one publish at a time (each awaited), then `--in-flight` publishers at once. Works
 * under its own random topic and group prefix and deletes them afterwards. A measurement,
 * not a test.
 */
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { KafkaEventBus } from "../adapters/kafka/kafka-event-bus.js";
import { deleteKafkaPrefix } from "./backend-cleanup.js";
import { runWindowed } from "./flows.js";
import { readInfraEndpoint } from "./infra-endpoints.js";

export interface BenchResult {
  events: number;
  inFlight: number;
  publishSeconds: number;
  /** From the first publish until the subscriber had every event. */
  totalSeconds: number;
  eventsPerSecond: number;
}

/** A chat message's size and shape, about 300 bytes of JSON. */
const VALUE = { type: "message", conversation: "c-0123456789", sender: "u-42", text: "x".repeat(200), sentAt: 1795860000000 };

export async function benchBus(bus: KafkaEventBus, topic: string, events: number, inFlight: number): Promise<BenchResult> {
  let received = 0;
  let allReceived = (): void => undefined;
  const done = new Promise<void>((resolve) => (allReceived = resolve));
  await bus.subscribe(topic, "bench", () => {
    if (++received === events) allReceived();
  });
  const started = performance.now();
  await runWindowed(
    events,
    inFlight,
    () => true,
    (n) => bus.publish(topic, `user-${n % 1000}`, { ...VALUE, n }),
  );
  const published = performance.now();
  await done;
  const totalSeconds = (performance.now() - started) / 1000;
  return { events, inFlight, publishSeconds: (published - started) / 1000, totalSeconds, eventsPerSecond: Math.round(events / totalSeconds) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: "string" },
      events: { type: "string", default: "20000" },
      "in-flight": { type: "string", default: "1000" },
    },
  });
  const brokers = (values.brokers ?? readInfraEndpoint("PARLEY_TEST_KAFKA_BROKERS", "Kafka with 'hack/infra.sh up kafka', or pass --brokers")).split(",");
  const events = Number(values.events);
  const namespace = `bench-${randomUUID().slice(0, 8)}`;
  const bus = await KafkaEventBus.connect({
    brokers,
    clientId: namespace,
    topicPrefix: `${namespace}.`,
    partitions: 3,
    replicationFactor: 1,
    onHandlerError: (error) => {
      console.error(error);
    },
  });
  try {
    for (const [name, count, inFlight] of [
      ["one at a time", Math.min(events, 5000), 1],
      ["concurrent", events, Number(values["in-flight"])],
    ] as const) {
      const result = await benchBus(bus, `bench-${String(inFlight)}`, count, inFlight);
      console.log(
        `${name}: ${String(result.events)} events, ${String(result.inFlight)} publish(es) in flight: published in ${result.publishSeconds.toFixed(2)} s, ` +
          `all received after ${result.totalSeconds.toFixed(2)} s = ${String(result.eventsPerSecond)} events/s`,
      );
    }
  } finally {
    await bus.close();
    await deleteKafkaPrefix(brokers, `${namespace}.`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
