/**
 * The production shape a chaos scenario runs against: `parley serve` gateway (×2) and N
 * replicas each of chat, groups, presence and assets on the real back ends, under a
 * cluster name, keyspace and bucket of their own (as services/bench/real-backends.ts
 * does), with a way to kill -9 one process and start it again, and the clean-up of what
 * the run created.
 */
import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { connectCassandra } from "../adapters/cassandra/cassandra-options.js";
import { parseClusterNodes } from "../adapters/redis/redis-client.js";
import { createS3Client } from "../adapters/s3/s3-blob-store.js";
import { TokenAuthority } from "../auth/tokens.js";
import { deleteKafkaPrefix, unlinkKeys } from "../bench/backend-cleanup.js";
import { readFileSync } from "node:fs";
import { CliProcess, RAISED_LIMITS } from "../bench/cli-process.js";
import { readInfraEndpoint } from "../bench/infra-endpoints.js";
import { redisKeyPrefix, topicPrefix } from "../events/cluster-names.js";

const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;
const TOKEN_TTL_SECONDS = 3600;
const BACK_ENDS = "back ends with 'hack/infra.sh up'";

export const SERVICES = ["chat", "groups", "presence", "assets"] as const;
export type Service = (typeof SERVICES)[number];
/** A process of the cluster: one of the two gateways, or replica n (from 1) of a service, e.g. `chat-1`. */
export type Role = "gateway-a" | "gateway-b" | `${Service}-${number}`;
const GATEWAYS = ["gateway-a", "gateway-b"] as const;

/** The role of replica `n` (from 1) of a service. */
export function replica(service: Service, n: number): Role {
  return `${service}-${n}`;
}

export interface ClusterOptions {
  /** Kafka bootstrap servers; the single broker of hack/infra.sh by default. */
  kafkaBrokers?: string;
  kafkaReplicationFactor?: number;
  /** Redis Cluster seed nodes (host:port,...) instead of the standalone Redis of hack/infra.sh. */
  redisClusterNodes?: string;
  /** Processes per service (chat, groups, presence, assets); 1 by default. The gateways are always two. */
  replicas?: number;
  /** Settings on top of the cluster's own (PARLEY_...), for every process. */
  settings?: Record<string, string>;
  log: (text: string) => void;
}

export class ChaosCluster {
  readonly id = randomBytes(4).toString("hex");
  readonly name = `chaos-${this.id}`;
  private readonly keyspace = `parley_chaos_${this.id}`;
  private readonly processes = new Map<Role, CliProcess>();
  /** Roles a scenario killed and did not start again: not counted as having died by themselves. */
  private readonly killed = new Set<Role>();
  readonly replicas: number;
  private readonly env: Record<string, string>;
  private readonly tokens: TokenAuthority;
  readonly kafkaBrokers: string;
  private readonly cassandraContactPoints = readInfraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS", BACK_ENDS);
  private readonly cassandraDc = readInfraEndpoint("PARLEY_TEST_CASSANDRA_DC", BACK_ENDS);
  /** The Redis the processes use, as its setting: the standalone server's URL or cluster nodes. */
  readonly redis: string;

  constructor(private readonly options: ClusterOptions) {
    const secret = randomBytes(32).toString("base64url");
    this.tokens = new TokenAuthority(secret);
    this.kafkaBrokers = options.kafkaBrokers ?? readInfraEndpoint("PARLEY_TEST_KAFKA_BROKERS", BACK_ENDS);
    this.redis = options.redisClusterNodes ?? readInfraEndpoint("PARLEY_TEST_REDIS_URL", BACK_ENDS);
    this.replicas = options.replicas ?? 1;
    if (!Number.isInteger(this.replicas) || this.replicas < 1) throw new Error(`replicas must be a whole number from 1, not ${String(options.replicas)}`);
    this.env = {
      PARLEY_CLUSTER: this.name,
      PARLEY_JWT_SECRET: secret,
      PARLEY_KAFKA_BROKERS: this.kafkaBrokers,
      PARLEY_KAFKA_PARTITIONS: "3",
      PARLEY_KAFKA_REPLICATION_FACTOR: String(options.kafkaReplicationFactor ?? 1),
      PARLEY_CASSANDRA_CONTACT_POINTS: this.cassandraContactPoints,
      PARLEY_CASSANDRA_LOCAL_DC: this.cassandraDc,
      PARLEY_CASSANDRA_KEYSPACE: this.keyspace,
      PARLEY_CASSANDRA_REPLICATION: "1",
      ...(options.redisClusterNodes === undefined ? { PARLEY_REDIS_URL: this.redis } : { PARLEY_REDIS_CLUSTER_NODES: this.redis }),
      PARLEY_S3_ENDPOINT: readInfraEndpoint("PARLEY_TEST_S3_ENDPOINT", BACK_ENDS),
      PARLEY_S3_ACCESS_KEY: readInfraEndpoint("PARLEY_TEST_S3_ACCESS_KEY", BACK_ENDS),
      PARLEY_S3_SECRET_KEY: readInfraEndpoint("PARLEY_TEST_S3_SECRET_KEY", BACK_ENDS),
      PARLEY_S3_REGION: readInfraEndpoint("PARLEY_TEST_S3_REGION", BACK_ENDS),
      PARLEY_S3_BUCKET: `parley-chaos-${this.id}`,
      PARLEY_SHUTDOWN_GRACE_MS: "2000",
      ...RAISED_LIMITS,
      ...options.settings,
    };
  }

  /** Every service's replicas, in order: chat-1, chat-2, ..., assets-N. */
  serviceRoles(service?: Service): Role[] {
    return (service === undefined ? SERVICES : [service]).flatMap((name) => Array.from({ length: this.replicas }, (_, i) => replica(name, i + 1)));
  }

  /** Starts every process: chat-1 first (it creates the keyspace and tables), then the rest at once. */
  async start(): Promise<void> {
    const first = replica("chat", 1);
    await this.startRole(first);
    await Promise.all([...this.serviceRoles().filter((role) => role !== first), ...GATEWAYS].map((role) => this.startRole(role)));
  }

  /** http://host:port of a running process (its HTTP API, /metrics, and for assets /v1/assets). */
  url(role: Role): string {
    const child = this.processes.get(role);
    if (child?.running !== true) throw new Error(`${role} is not running`);
    return child.url;
  }

  /** ws:// URLs of the gateways running now. */
  gateways(): string[] {
    return GATEWAYS.flatMap((role) => {
      const process = this.processes.get(role);
      return process?.running === true ? [process.websocketUrl] : [];
    });
  }

  token(userId: string): Promise<string> {
    return this.tokens.issue(userId, TOKEN_TTL_SECONDS);
  }

  /** SIGKILL, as the kernel's OOM killer or a lost node does it: no drain, no goodbye. */
  kill(role: Role): void {
    const process = this.processes.get(role);
    if (process === undefined) throw new Error(`${role} is not running`);
    this.options.log(`kill -9 ${role} (pid ${process.pid})`);
    this.killed.add(role);
    process.killNow();
  }

  async startRole(role: Role): Promise<void> {
    // chat-2 → chat; gateway-a → gateway.
    const service = role.startsWith("gateway") ? "gateway" : role.replace(/-\d+$/, "");
    const extra: Record<string, string> = role.startsWith("gateway") ? { PARLEY_GATEWAY_ID: `${role}-${this.id}` } : {};
    // PARLEY_CHAOS_LOG_DIR keeps each process's log (appended across restarts) for a post-mortem.
    const logDir = process.env.PARLEY_CHAOS_LOG_DIR;
    const logFile = logDir === undefined || logDir === "" ? {} : { logFile: `${logDir}/${role}.log` };
    const child = await CliProcess.serve({ service, label: role, env: { ...this.env, ...extra }, startTimeoutMs: START_TIMEOUT_MS, ...logFile });
    this.processes.set(role, child);
    this.killed.delete(role);
    this.options.log(`${role} (pid ${child.pid}) listening at ${child.url}`);
  }

  /** Resident memory of the running processes together, in MB (VmRSS from /proc). */
  rssMb(): number {
    let kib = 0;
    for (const child of this.processes.values()) {
      if (!child.running) continue;
      try {
        kib += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0);
      } catch {
        // Gone between the check and the read: it holds no memory.
      }
    }
    return Math.round(kib / 1024);
  }

  /** Processes that exited by themselves (not killed by a scenario). */
  died(): string[] {
    return [...this.processes]
      .filter(([role, process]) => !process.running && !this.killed.has(role))
      .map(([, process]) => `${process.label} (${process.describeExit()})`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.processes.values()].map((process) => process.stop(STOP_TIMEOUT_MS)));
  }

  /** Drops what the run created: keyspace, topics and consumer groups, Redis keys, the bucket and the assets in it. */
  async removeState(): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (what: string, step: () => Promise<void>): Promise<void> => {
      try {
        await step();
      } catch (error) {
        problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    await Promise.all([
      attempt("Cassandra keyspace", async () => {
        const cassandra = await connectCassandra({ contactPoints: this.cassandraContactPoints.split(","), localDataCenter: this.cassandraDc });
        try {
          await cassandra.execute(`DROP KEYSPACE IF EXISTS ${this.keyspace}`);
        } finally {
          await cassandra.shutdown();
        }
      }),
      attempt("Kafka topics and consumer groups", async () => {
        await deleteKafkaPrefix(this.kafkaBrokers.split(","), topicPrefix(this.name));
      }),
      attempt("S3 bucket", async () => {
        const s3 = createS3Client({ endPoint: this.env.PARLEY_S3_ENDPOINT ?? "", accessKey: this.env.PARLEY_S3_ACCESS_KEY ?? "", secretKey: this.env.PARLEY_S3_SECRET_KEY ?? "", region: this.env.PARLEY_S3_REGION ?? "" });
        try {
          const bucket = this.env.PARLEY_S3_BUCKET ?? "";
          if (!(await s3.client.bucketExists(bucket))) return;
          const names: string[] = [];
          for await (const item of s3.client.listObjectsV2(bucket, "", true) as AsyncIterable<{ name?: string }>) if (item.name !== undefined) names.push(item.name);
          if (names.length > 0) await s3.client.removeObjects(bucket, names);
          await s3.client.removeBucket(bucket);
        } finally {
          s3.agent.destroy();
        }
      }),
      attempt("Redis keys", async () => {
        const redis =
          this.options.redisClusterNodes === undefined
            ? new Redis(this.redis, { lazyConnect: true, maxRetriesPerRequest: 2 })
            : new Cluster(parseClusterNodes(this.options.redisClusterNodes), { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 2 } });
        try {
          await redis.connect();
          await unlinkKeys(redis, `${redisKeyPrefix(this.name)}*`);
        } finally {
          redis.disconnect();
        }
      }),
    ]);
    return problems;
  }
}
