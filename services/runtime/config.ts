import { z } from "zod";
import { MAX_PAGE_SIZE } from "../protocol/frames.js";

const hostPortList = z
  .string()
  .transform((value) => value.split(",").map((part) => part.trim()).filter((part) => part.length > 0))
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, "must be host:port entries separated by commas")).min(1));

/** Comma-separated web origins (`https://chat.example.com`), or `*` for any. */
const originList = z
  .string()
  .transform((value) => value.split(",").map((part) => part.trim()).filter((part) => part.length > 0))
  .pipe(z.array(z.union([z.literal("*"), z.string().regex(/^https?:\/\/[^/\s]+$/, "must be origins like https://chat.example.com (scheme, host, port; no path) or *, separated by commas")])));

/**
 * Every setting, once: its environment variable, its command-line flag (where it has
 * one), its group, its type, its default and what it means. `parley <command> --help`, the
 * configuration loader and docs/configuration.md (services/tools/generate-config-docs.ts)
 * all come from this table.
 */
export const SETTINGS = {
  host: {
    group: "server",
    env: "PARLEY_HOST",
    flag: "--host <address>",
    schema: z.string().min(1),
    default: "127.0.0.1",
    description: "address the HTTP and WebSocket server listens on",
  },
  port: {
    group: "server",
    env: ["PORT", "PARLEY_PORT"],
    flag: "--port <port>",
    schema: z.coerce.number().int().min(0).max(65535),
    default: 8080,
    description: "TCP port of the HTTP and WebSocket server (0 picks a free one)",
  },
  dataDir: {
    group: "server",
    env: "PARLEY_DATA_DIR",
    flag: "--data-dir <path>",
    schema: z.string().min(1),
    default: "./.parley",
    description: "directory that holds the embedded back ends' data",
  },
  logLevel: {
    group: "server",
    env: "PARLEY_LOG_LEVEL",
    flag: "--log-level <level>",
    schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    default: "info",
    description: "least severe log level written",
  },
  jwtSecret: {
    group: "server",
    env: "PARLEY_JWT_SECRET",
    secret: true,
    schema: z.string().min(32, "must be at least 32 characters").optional(),
    default: undefined,
    description: "HS256 secret that signs client tokens; unset in dev: a random secret kept in the data directory",
  },
  clusterName: {
    group: "server",
    env: "PARLEY_CLUSTER",
    schema: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/, "must be a DNS label of at most 40 characters"),
    default: "dev",
    description: "cluster name, the prefix of every bus topic",
  },
  gatewayId: {
    group: "server",
    env: "PARLEY_GATEWAY_ID",
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
    default: undefined,
    description: "this gateway's id in the connection registry; unset: generated at start",
  },
  maxFrameBytes: {
    group: "server",
    env: "PARLEY_MAX_FRAME_BYTES",
    schema: z.coerce.number().int().min(1024).max(16 * 1024 * 1024),
    default: 64 * 1024,
    description: "largest WebSocket message a client may send, in bytes; larger ones close the connection (1009)",
  },
  framesPerSecond: {
    group: "server",
    env: "PARLEY_FRAMES_PER_SECOND",
    schema: z.coerce.number().positive().max(100_000),
    default: 50,
    description: "sustained client frames per second per connection",
  },
  frameBurst: {
    group: "server",
    env: "PARLEY_FRAME_BURST",
    schema: z.coerce.number().int().min(1).max(100_000),
    default: 100,
    description: "client frames a connection may send at once above the sustained rate",
  },
  sendBufferBytes: {
    group: "server",
    env: "PARLEY_SEND_BUFFER_BYTES",
    schema: z.coerce.number().int().min(16 * 1024),
    default: 1024 * 1024,
    description: "bytes queued to one slow client before it is disconnected (4000)",
  },
  maxConnections: {
    group: "server",
    env: "PARLEY_MAX_CONNECTIONS",
    schema: z.coerce.number().int().min(1),
    default: 100_000,
    description: "connections one gateway accepts; further upgrades get HTTP 503",
  },
  maxConnectionsPerUser: {
    group: "server",
    env: "PARLEY_MAX_CONNECTIONS_PER_USER",
    schema: z.coerce.number().int().min(1).max(10_000),
    default: 20,
    description: "open connections one user may hold across the cluster; further upgrades get HTTP 429",
  },
  maxDevicesPerUser: {
    group: "server",
    env: "PARLEY_MAX_DEVICES_PER_USER",
    schema: z.coerce.number().int().min(1).max(10_000),
    default: 10,
    description: "distinct device ids one user may have connected at once; an upgrade from a further device gets HTTP 429",
  },
  maxTokenLifetimeSeconds: {
    group: "server",
    env: "PARLEY_MAX_TOKEN_LIFETIME_SECONDS",
    schema: z.coerce.number().int().min(1).max(30 * 24 * 3600),
    default: 24 * 3600,
    description: "longest token lifetime (exp - iat) the gateway accepts; longer-lived tokens get HTTP 401",
  },
  heartbeatIntervalMs: {
    group: "server",
    env: "PARLEY_HEARTBEAT_INTERVAL_MS",
    schema: z.coerce.number().int().min(100),
    default: 30_000,
    description: "interval of server pings; a connection that misses one pong is closed",
  },
  shutdownGraceMs: {
    group: "server",
    env: "PARLEY_SHUTDOWN_GRACE_MS",
    schema: z.coerce.number().int().min(0),
    default: 10_000,
    description: "time clients get to leave after the reconnect notice on SIGTERM",
  },
  maxGroupMembers: {
    group: "groups",
    env: "PARLEY_MAX_GROUP_MEMBERS",
    schema: z.coerce.number().int().min(2).max(100_000),
    default: 10_000,
    description: "largest group, owner included; adding past it is refused",
  },
  activeScoreThreshold: {
    group: "groups",
    env: "PARLEY_ACTIVE_SCORE_THRESHOLD",
    schema: z.coerce.number().positive(),
    default: 1,
    description: "activity score from which an online member gets group messages in real time (below: batched)",
  },
  activityHalfLifeMs: {
    group: "groups",
    env: "PARLEY_ACTIVITY_HALF_LIFE_MS",
    schema: z.coerce.number().int().min(1000),
    default: 300_000,
    description: "time in which an activity score halves without new activity",
  },
  idleBatchDelayMs: {
    group: "groups",
    env: "PARLEY_IDLE_BATCH_DELAY_MS",
    schema: z.coerce.number().int().min(0).max(600_000),
    default: 5_000,
    description: "how long group messages for idle members are held and batched into one frame",
  },
  idleBatchMaxMessages: {
    group: "groups",
    env: "PARLEY_IDLE_BATCH_MAX_MESSAGES",
    schema: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE),
    default: 50,
    description: "a batch for an idle member is sent early once it holds this many messages",
  },
  notifyWebhookUrl: {
    group: "notifications",
    env: "PARLEY_NOTIFY_WEBHOOK_URL",
    schema: z.url({ protocol: /^https?$/ }).optional(),
    default: undefined,
    description: "push-provider webhook that gets a POST per notification for offline members; unset: notifications are only logged",
  },
  notifyWebhookSecret: {
    group: "notifications",
    env: "PARLEY_NOTIFY_WEBHOOK_SECRET",
    secret: true,
    schema: z.string().min(32, "must be at least 32 characters").optional(),
    default: undefined,
    description: "HMAC-SHA256 key that signs each webhook POST (Parley-Signature header); required with PARLEY_NOTIFY_WEBHOOK_URL",
  },
  notifyMinIntervalMs: {
    group: "notifications",
    env: "PARLEY_NOTIFY_MIN_INTERVAL_MS",
    schema: z.coerce.number().int().min(0),
    default: 60_000,
    description: "least time between two notifications to one user",
  },
  assetLinkTtlSeconds: {
    group: "assets",
    env: "PARLEY_ASSET_LINK_TTL_SECONDS",
    schema: z.coerce.number().int().min(1).max(7 * 24 * 3600),
    default: 300,
    description: "lifetime of an asset download link",
  },
  assetMaxImageBytes: {
    group: "assets",
    env: "PARLEY_ASSET_MAX_IMAGE_BYTES",
    schema: z.coerce.number().int().min(1),
    default: 16 * 1024 * 1024,
    description: "largest image upload (JPEG, PNG, GIF, WebP)",
  },
  assetMaxAudioBytes: {
    group: "assets",
    env: "PARLEY_ASSET_MAX_AUDIO_BYTES",
    schema: z.coerce.number().int().min(1),
    default: 16 * 1024 * 1024,
    description: "largest audio upload (MP3, Ogg, M4A)",
  },
  assetMaxVideoBytes: {
    group: "assets",
    env: "PARLEY_ASSET_MAX_VIDEO_BYTES",
    schema: z.coerce.number().int().min(1),
    default: 64 * 1024 * 1024,
    description: "largest video upload (MP4, WebM)",
  },
  assetMaxDocumentBytes: {
    group: "assets",
    env: "PARLEY_ASSET_MAX_DOCUMENT_BYTES",
    schema: z.coerce.number().int().min(1),
    default: 32 * 1024 * 1024,
    description: "largest document upload (PDF)",
  },
  assetUploadsInFlight: {
    group: "assets",
    env: "PARLEY_ASSET_UPLOADS_IN_FLIGHT",
    schema: z.coerce.number().int().min(1),
    default: 32,
    description: "uploads one process receives at once; more are answered 503 with Retry-After",
  },
  assetUploadsInFlightPerUser: {
    group: "assets",
    env: "PARLEY_ASSET_UPLOADS_IN_FLIGHT_PER_USER",
    schema: z.coerce.number().int().min(1),
    default: 4,
    description: "uploads one user sends to one process at once; more are answered 429 with Retry-After",
  },
  assetDownloadBytesInFlight: {
    group: "assets",
    env: "PARLEY_ASSET_DOWNLOAD_BYTES_IN_FLIGHT",
    schema: z.coerce.number().int().min(1),
    default: 2 * 1024 * 1024 * 1024,
    description: "bytes of downloads one process has still to send; a download that would pass it is answered 503 with Retry-After",
  },
  assetDownloadBytesInFlightPerUser: {
    group: "assets",
    env: "PARLEY_ASSET_DOWNLOAD_BYTES_IN_FLIGHT_PER_USER",
    schema: z.coerce.number().int().min(1),
    default: 256 * 1024 * 1024,
    description: "bytes of downloads one user has still to receive from one process; past it, 429 with Retry-After (a user's first download always fits)",
  },
  assetDownloadIdleTimeoutMs: {
    group: "assets",
    env: "PARLEY_ASSET_DOWNLOAD_IDLE_TIMEOUT_MS",
    schema: z.coerce.number().int().min(100),
    default: 30_000,
    description: "a download whose client reads nothing for this long is cut off",
  },
  assetCorsOrigins: {
    group: "assets",
    env: "PARLEY_ASSET_CORS_ORIGINS",
    schema: originList.optional(),
    default: undefined,
    description: "web origins other than the server's own that may call /v1/assets from a browser (CORS), comma-separated, or *",
  },
  requestTimeoutMs: {
    group: "backends",
    env: "PARLEY_REQUEST_TIMEOUT_MS",
    schema: z.coerce.number().int().min(100).max(120_000),
    default: 10_000,
    description: "parley serve: how long a gateway waits for a service to answer a frame before replying unavailable",
  },
  requestConcurrency: {
    group: "backends",
    env: "PARLEY_REQUEST_CONCURRENCY",
    schema: z.coerce.number().int().min(1).max(10_000),
    default: 64,
    description: "parley serve: frame requests one chat, groups or presence process handles at once, of different users (one user's always one at a time, in order)",
  },
  kafkaBrokers: {
    group: "backends",
    env: "PARLEY_KAFKA_BROKERS",
    schema: hostPortList.optional(),
    default: undefined,
    description: "parley serve: Kafka bootstrap servers, host:port,host:port",
  },
  kafkaPartitions: {
    group: "backends",
    env: "PARLEY_KAFKA_PARTITIONS",
    schema: z.coerce.number().int().min(1).max(1000),
    default: 6,
    description: "partitions of each topic Parley creates",
  },
  kafkaReplicationFactor: {
    group: "backends",
    env: "PARLEY_KAFKA_REPLICATION_FACTOR",
    schema: z.coerce.number().int().min(1).max(7),
    default: 3,
    description: "replication factor of each topic Parley creates",
  },
  groupTopics: {
    group: "backends",
    env: "PARLEY_GROUP_TOPICS",
    schema: z.union([z.literal("per-group"), z.coerce.number().int().min(1).max(1000)]),
    default: 16,
    description:
      "Kafka topics group messages travel on: per-group (a topic of each group's own) or a number of shared topics, each group on one by a hash of its id (its order kept); a topic per group costs the brokers per partition, see docs/operations.md",
  },
  cassandraContactPoints: {
    group: "backends",
    env: "PARLEY_CASSANDRA_CONTACT_POINTS",
    schema: hostPortList.optional(),
    default: undefined,
    description: "parley serve: Cassandra contact points, host:port,host:port",
  },
  cassandraLocalDataCenter: {
    group: "backends",
    env: "PARLEY_CASSANDRA_LOCAL_DC",
    schema: z.string().min(1),
    default: "datacenter1",
    description: "the Cassandra data centre this process is in",
  },
  cassandraKeyspace: {
    group: "backends",
    env: "PARLEY_CASSANDRA_KEYSPACE",
    schema: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, "must be a lower-case Cassandra identifier"),
    default: "parley",
    description: "keyspace of Parley's tables (created by the migrations)",
  },
  cassandraReplication: {
    group: "backends",
    env: "PARLEY_CASSANDRA_REPLICATION",
    schema: z.string().regex(/^(\d+|[A-Za-z0-9_-]+:\d+(,[A-Za-z0-9_-]+:\d+)*)$/, "must be a replication factor (3) or data centres with factors (dc1:3,dc2:3)"),
    default: "3",
    description: "keyspace replication: a factor for SimpleStrategy, or dc:factor pairs for NetworkTopologyStrategy",
  },
  cassandraConsistency: {
    group: "backends",
    env: "PARLEY_CASSANDRA_CONSISTENCY",
    schema: z.enum(["LOCAL_QUORUM", "QUORUM", "LOCAL_ONE", "ONE", "ALL", "EACH_QUORUM"]),
    default: "LOCAL_QUORUM",
    description: "consistency level of reads and writes",
  },
  cassandraUsername: {
    group: "backends",
    env: "PARLEY_CASSANDRA_USERNAME",
    schema: z.string().min(1).optional(),
    default: undefined,
    description: "Cassandra user (with PARLEY_CASSANDRA_PASSWORD); unset: no authentication",
  },
  cassandraPassword: {
    group: "backends",
    env: "PARLEY_CASSANDRA_PASSWORD",
    secret: true,
    schema: z.string().min(1).optional(),
    default: undefined,
    description: "Cassandra password",
  },
  redisUrl: {
    group: "backends",
    env: "PARLEY_REDIS_URL",
    schema: z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").optional(),
    default: undefined,
    description: "parley serve: a standalone Redis (redis://[:password@]host:port); or set PARLEY_REDIS_CLUSTER_NODES",
  },
  redisClusterNodes: {
    group: "backends",
    env: "PARLEY_REDIS_CLUSTER_NODES",
    schema: hostPortList.optional(),
    default: undefined,
    description: "parley serve: Redis Cluster seed nodes, host:port,host:port",
  },
  redisPassword: {
    group: "backends",
    env: "PARLEY_REDIS_PASSWORD",
    secret: true,
    schema: z.string().min(1).optional(),
    default: undefined,
    description: "Redis password (AUTH), for a cluster or instead of one in the URL",
  },
  s3Endpoint: {
    group: "backends",
    env: "PARLEY_S3_ENDPOINT",
    schema: z.url({ protocol: /^https?$/ }).optional(),
    default: undefined,
    description: "parley serve: S3-compatible endpoint URL (AWS S3, MinIO, Ceph, S3Proxy)",
  },
  s3Region: {
    group: "backends",
    env: "PARLEY_S3_REGION",
    schema: z.string().min(1),
    default: "us-east-1",
    description: "S3 region",
  },
  s3Bucket: {
    group: "backends",
    env: "PARLEY_S3_BUCKET",
    schema: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name"),
    default: "parley",
    description: "bucket that holds the assets (created if missing)",
  },
  s3AccessKey: {
    group: "backends",
    env: "PARLEY_S3_ACCESS_KEY",
    schema: z.string().min(1).optional(),
    default: undefined,
    description: "S3 access key id; unset together with PARLEY_S3_SECRET_KEY: the pod's AWS identity signs (web identity token, container or instance role)",
  },
  s3SecretKey: {
    group: "backends",
    env: "PARLEY_S3_SECRET_KEY",
    secret: true,
    schema: z.string().min(1).optional(),
    default: undefined,
    description: "S3 secret access key",
  },
} satisfies Record<string, Setting>;

/**
 * The part of the platform a setting belongs to: docs/configuration.md has a section per
 * group, and a command's settings are named by group (services/cli/command-spec.ts).
 * `backends` are read only by `parley serve`.
 */
export const SETTING_GROUPS = ["server", "groups", "notifications", "assets", "backends"] as const;
export type SettingGroup = (typeof SETTING_GROUPS)[number];

interface Setting {
  group: SettingGroup;
  env: string | readonly string[];
  /** Never echoed in an error message. */
  secret?: boolean;
  flag?: string;
  schema: z.ZodType;
  default: unknown;
  description: string;
}

export type SettingName = keyof typeof SETTINGS;
export type Config = { [K in SettingName]: z.output<(typeof SETTINGS)[K]["schema"]> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Builds the configuration from command-line flags, then the environment, then defaults.
 * Every bad value is reported at once, naming where it came from.
 */
/** The environment variables a setting is read from, the preferred one first. */
export function envNames(name: SettingName): readonly string[] {
  const env = SETTINGS[name].env;
  return typeof env === "string" ? [env] : env;
}

export function loadConfig(flags: Partial<Record<SettingName, string>>, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    const names = envNames(name);
    const flagValue = flags[name];
    const envName = names.find((n) => env[n] !== undefined && env[n] !== "");
    const [raw, source] =
      flagValue !== undefined
        ? [flagValue, setting.flag ? setting.flag.split(" ")[0] : name]
        : envName !== undefined
          ? [env[envName], envName]
          : [setting.default, "default"];
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) config[name] = parsed.data;
    else {
      // Never echo a secret into a terminal or a log.
      const shown = setting.secret ? "a value that is hidden" : JSON.stringify(raw);
      problems.push(`${source}: ${parsed.error.issues[0]?.message ?? "invalid"} (got ${shown})`);
    }
  }
  // Unsigned notifications could be forged by anyone who reaches the receiver: refused.
  if (config.notifyWebhookUrl !== undefined && config.notifyWebhookSecret === undefined) {
    problems.push("PARLEY_NOTIFY_WEBHOOK_SECRET: required when PARLEY_NOTIFY_WEBHOOK_URL is set (notifications are signed with it)");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as Config;
}
