import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Client } from "cassandra-driver";
import { inject } from "vitest";
import { connectTestClient } from "../../adapters/cassandra/testing/test-keyspace.js";
import { runMigrations } from "../../adapters/cassandra/migrations.js";
import { ensureBucket } from "../../adapters/s3/s3-blob-store.js";
import { TokenAuthority } from "../../auth/tokens.js";
import type { Config } from "../../runtime/config.js";
import type { ParleyClient } from "../../sdk/index.js";
import { infraEndpoint } from "../../testing/infra.js";
import { startParleyProcess, type ChildPlatform } from "./child-platform.js";
import { startClusterFront } from "./cluster-front.js";
import { configToEnv } from "./config-env.js";
import { backendEnv, infraS3Client, serveRunNames } from "./serve-run.js";
import { openSdkClient, type TestPlatform } from "./test-platform.js";

/** The services that run as replicas; the gateways are always two. */
const REPLICATED = ["chat", "groups", "presence", "assets"] as const;
const GATEWAYS = ["gw-a", "gw-b"] as const;

/**
 * The production shape as a TestPlatform: two gateways and `replicas` processes each of
 * chat, groups, presence and assets, every one a `parley serve` child process on the real
 * Kafka, Cassandra, Redis and S3, with the test's settings as its environment. Clients
 * opened by `open()` go to the gateways in turn, as a load balancer spreads connections;
 * `url` is one HTTP address for them all (services/e2e/support/cluster-front.ts).
 *
 * Each platform starts clean and alone: a cluster name of its own (Kafka topics and
 * groups, Redis keys), and the file's keyspace emptied (creating a keyspace takes seconds,
 * a TRUNCATE of its tables far less). The run's end removes all of it
 * (services/e2e/support/serve-global-setup.ts).
 */
export async function startServePlatform(overrides: Partial<Config>, replicas: number): Promise<TestPlatform> {
  const file = await fileState();
  const cluster = file.names.cluster(`${file.tag}n${String(file.platforms++)}`);
  await emptyKeyspace(file.cassandra, file.keyspace);
  const logDir = join(inject("serveLogDir"), cluster);
  await mkdir(logDir, { recursive: true });

  const jwtSecret = overrides.jwtSecret ?? randomBytes(24).toString("hex");
  const tokens = new TokenAuthority(jwtSecret);
  // The rates a test platform has in dev (test-platform.ts); port and log level are
  // startParleyProcess's flags, and parley serve keeps no data directory.
  const settings: Partial<Config> = { framesPerSecond: 10_000, frameBurst: 10_000, shutdownGraceMs: 2_000, ...overrides };
  const env = {
    ...backendEnv(),
    ...configToEnv(settings, ["port", "host", "dataDir", "logLevel"]),
    PARLEY_JWT_SECRET: jwtSecret,
    PARLEY_CLUSTER: cluster,
    PARLEY_CASSANDRA_KEYSPACE: file.keyspace,
    PARLEY_S3_BUCKET: file.bucket,
    // A run starts well over a hundred processes on the same code: V8's compiled code,
    // kept between processes and runs, spares each part of its start.
    NODE_COMPILE_CACHE: join(process.env.PARLEY_CACHE ?? join(homedir(), ".cache", "parley"), "node-compile-cache"),
  };

  const children: ChildPlatform[] = [];
  const start = async (service: string, name: string, extra: Record<string, string> = {}): Promise<ChildPlatform> => {
    const child = await startParleyProcess(["serve", service], { ...env, ...extra }, join(logDir, `${name}.log`));
    children.push(child);
    return child;
  };
  const replicaNames = Array.from({ length: replicas }, (_, i) => String(i + 1));
  const started = Promise.all([
    Promise.all(GATEWAYS.map((id) => start("gateway", id, { PARLEY_GATEWAY_ID: `${cluster}-${id}` }))),
    Promise.all(REPLICATED.map((service) => Promise.all(replicaNames.map((n) => start(service, `${service}-${n}`))))),
  ]);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await front?.close();
      for (const child of children) child.process.kill("SIGTERM");
      await Promise.all(children.map((child) => child.exited));
    })());
  let front: Awaited<ReturnType<typeof startClusterFront>> | undefined;
  let gateways: ChildPlatform[];
  let assets: ChildPlatform[];
  try {
    const [startedGateways, services] = await started;
    gateways = startedGateways;
    assets = services[REPLICATED.indexOf("assets")] ?? [];
    front = await startClusterFront({ gateways: gateways.map((g) => g.url), assets: assets.map((a) => a.url), all: children.map((c) => c.url) });
  } catch (error) {
    // The processes that did start must not outlive the test.
    await started.catch(() => undefined);
    await stop();
    throw error;
  }
  const { url, port } = front;

  const clients: ParleyClient[] = [];
  let turn = 0;
  const notInProcess = (what: string): never => {
    throw new Error(`${what} is in-process state of parley dev; the serve shape (PARLEY_E2E_SHAPE=serve) runs only the suites that use the protocol`);
  };
  return {
    url,
    port,
    websocketUrl: gateways[0]?.websocketUrl ?? "",
    tokens,
    dataDir: logDir,
    get gateway() {
      return notInProcess("platform.gateway");
    },
    get metrics() {
      return notInProcess("platform.metrics");
    },
    token: (userId, ttlSeconds = 3600) => tokens.issue(userId, ttlSeconds),
    async open(userId, options = {}) {
      const gateway = gateways[turn++ % gateways.length];
      if (gateway === undefined) throw new Error("no gateway");
      const client = await openSdkClient(gateway.websocketUrl, await tokens.issue(userId, 3600), options);
      clients.push(client);
      return client;
    },
    stop,
    async dispose() {
      await Promise.all(clients.map((c) => c.close()));
      await stop();
    },
  };
}

interface FileState {
  names: ReturnType<typeof serveRunNames>;
  /** Tells this test file's keyspace, bucket and clusters from other files' of the run. */
  tag: string;
  keyspace: string;
  bucket: string;
  cassandra: Client;
  platforms: number;
}

let state: Promise<FileState> | undefined;

/** This test file's keyspace (schema applied once) and bucket, made by its first platform. */
function fileState(): Promise<FileState> {
  return (state ??= (async () => {
    const names = serveRunNames(inject("serveRun"));
    const tag = randomBytes(3).toString("hex");
    const keyspace = names.keyspace(tag);
    const bucket = names.bucket(tag);
    const cassandra = await connectTestClient();
    await runMigrations(cassandra, { keyspace, replication: { class: "SimpleStrategy", replicationFactor: 1 } });
    const s3 = infraS3Client();
    try {
      await ensureBucket(s3.client, bucket, infraEndpoint("PARLEY_TEST_S3_REGION"));
    } finally {
      s3.agent.destroy();
    }
    return { names, tag, keyspace, bucket, cassandra, platforms: 0 };
  })());
}

/** Every table of the keyspace emptied, the migrations' own records kept. */
async function emptyKeyspace(cassandra: Client, keyspace: string): Promise<void> {
  const { rows } = await cassandra.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", [keyspace], { prepare: true });
  const tables = rows.map((row) => String(row.get("table_name"))).filter((name) => !name.startsWith("schema_migration"));
  await Promise.all(tables.map((table) => cassandra.execute(`TRUNCATE ${keyspace}.${table}`)));
}
