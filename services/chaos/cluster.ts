/**
 * The production shape a chaos scenario runs against: `parley serve` gateway (×2), chat,
 * groups and presence on the real back ends, under a cluster name, keyspace and bucket of
 * their own (as services/bench/real-backends.ts does), with a way to kill -9 one process
 * and start it again, and the clean-up of what the run created.
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

export type Role = "gateway-a" | "gateway-b" | "chat" | "groups" | "presence";

export interface ClusterOptions {
  /** Kafka bootstrap servers; the single broker of hack/infra.sh by default. */
  kafkaBrokers?: string;
  kafkaReplicationFactor?: number;
  /** Redis Cluster seed nodes (host:port,...) instead of the standalone Redis of hack/infra.sh. */
  redisClusterNodes?: string;
  log: (text: string) => void;
}

export class ChaosCluster {
  readonly id = randomBytes(4).toString("hex");
  readonly name = `chaos-${this.id}`;
  private readonly keyspace = `parley_chaos_${this.id}`;
  private readonly processes = new Map<Role, CliProcess>();
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
    };
  }

  /** Starts every process: chat first (it creates the keyspace and tables), then the rest at once. */
  async start(): Promise<void> {
    await this.startRole("chat");
    await Promise.all((["groups", "presence", "gateway-a", "gateway-b"] as const).map((role) => this.startRole(role)));
  }

  /** ws:// URLs of the gateways running now. */
  gateways(): string[] {
    return (["gateway-a", "gateway-b"] as const).flatMap((role) => {
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
    process.killNow();
  }

  async startRole(role: Role): Promise<void> {
    const service = role.startsWith("gateway") ? "gateway" : role;
    const extra: Record<string, string> = role.startsWith("gateway") ? { PARLEY_GATEWAY_ID: `${role}-${this.id}` } : {};
    // PARLEY_CHAOS_LOG_DIR keeps each process's log (appended across restarts) for a post-mortem.
    const logDir = process.env.PARLEY_CHAOS_LOG_DIR;
    const logFile = logDir === undefined || logDir === "" ? {} : { logFile: `${logDir}/${role}.log` };
    const child = await CliProcess.serve({ service, label: role, env: { ...this.env, ...extra }, startTimeoutMs: START_TIMEOUT_MS, ...logFile });
    this.processes.set(role, child);
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
    return [...this.processes.values()].filter((process) => !process.running).map((process) => `${process.label} (${process.describeExit()})`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.processes.values()].map((process) => process.stop(STOP_TIMEOUT_MS)));
  }

  /** Drops what the run created: keyspace, topics and consumer groups, Redis keys, the bucket (empty: no assets are sent). */
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
          if (await s3.client.bucketExists(bucket)) await s3.client.removeBucket(bucket);
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
