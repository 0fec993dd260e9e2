/**
 * The baseline of `make bench-real` (issue 14): the least durable work a 1:1 message can
 * cost on the same back ends, measured in the same run as Parley. Each operation is one
 * Kafka produce with acks=all followed by one Cassandra write at LOCAL_QUORUM (what a
 * send costs at the minimum: the request crosses the bus, the message is stored), with
 * the same number in flight as Parley's 1:1 phases. Parley's acks per second are judged
 * against it, so a busy machine or a slow back end lowers both sides alike.
 */
import { types } from "cassandra-driver";
import kafkajs from "kafkajs";
import { connectCassandra } from "../adapters/cassandra/cassandra-options.js";
import { runWindowed } from "./flows.js";
import { percentiles, perSecond, type Percentiles } from "./stats.js";

export interface DurableMinimumTarget {
  kafkaBrokers: string;
  cassandraContactPoints: string;
  cassandraDc: string;
  /** An existing keyspace of the run; the baseline's table is created in it. */
  keyspace: string;
  /** A topic name under the run's prefix, so that the run's clean-up deletes it. */
  topic: string;
}

export interface DurableMinimumFigures {
  operations: number;
  inFlight: number;
  operationsPerSecond: number;
  latencyMs: Percentiles | null;
}

const TABLE = "bench_durable_minimum";

export async function measureDurableMinimum(target: DurableMinimumTarget, operations: number, inFlight: number, text: string): Promise<DurableMinimumFigures> {
  const kafka = new kafkajs.Kafka({ clientId: "bench-durable-minimum", brokers: target.kafkaBrokers.split(","), logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  const cassandra = await connectCassandra({ contactPoints: target.cassandraContactPoints.split(","), localDataCenter: target.cassandraDc });
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: target.topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await producer.connect();
    await cassandra.execute(`CREATE TABLE IF NOT EXISTS ${target.keyspace}.${TABLE} (id text PRIMARY KEY, body text)`);
    const insert = `INSERT INTO ${target.keyspace}.${TABLE} (id, body) VALUES (?, ?)`;
    const latency = new Float64Array(operations).fill(NaN);
    const started = performance.now();
    await runWindowed(
      operations,
      inFlight,
      () => true,
      async (i) => {
        const at = performance.now();
        const id = `m-${i}`;
        await producer.send({ topic: target.topic, acks: -1, messages: [{ key: id, value: text }] });
        await cassandra.execute(insert, [id, text], { prepare: true, consistency: types.consistencies.localQuorum });
        latency[i] = performance.now() - at;
      },
    );
    return { operations, inFlight, operationsPerSecond: perSecond(operations, performance.now() - started), latencyMs: percentiles(latency) };
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await cassandra.shutdown().catch(() => undefined);
  }
}
