import { mkdtemp, rm } from "node:fs/promises";
import { afterEach } from "vitest";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ParleyClient, type ParleyOptions } from "../../sdk/index.js";
import { nodeWebSocket } from "../../sdk/node.js";
import type { InboxEvent } from "../../protocol/frames.js";
import { loadConfig, type Config } from "../../runtime/config.js";
import { startDevPlatform, type RunningPlatform } from "../../app/dev-platform.js";
import { createLogger } from "../../runtime/logger.js";

export interface TestPlatform extends RunningPlatform {
  dataDir: string;
  /**
   * Connects `userId` with the SDK and a fresh token, and resolves once it is caught up;
   * closed by `dispose`. It does not reconnect unless `options.reconnect` says so: a test
   * sees every close. `onEvent` is attached before the first sync, so it misses nothing.
   */
  open(userId: string, options?: OpenOptions): Promise<ParleyClient>;
  token(userId: string, ttlSeconds?: number): Promise<string>;
  /** Stops the platform, closes every client and removes the data directory. */
  dispose(): Promise<void>;
}

export type OpenOptions = Partial<ParleyOptions> & { onEvent?: (event: InboxEvent) => void };

/** An SDK client for a test: Node's `ws` socket, no reconnection unless asked, `onEvent` attached before connecting. */
export async function openSdkClient(url: string, token: string, { onEvent, ...options }: OpenOptions = {}): Promise<ParleyClient> {
  const client = new ParleyClient({ url, token, WebSocket: nodeWebSocket, reconnect: false, ...options });
  if (onEvent) client.on("event", onEvent);
  try {
    await client.connect();
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/**
 * A platform on a free port and a fresh data directory, as `parley dev` runs it; or, with
 * PARLEY_E2E_SHAPE=serve, the production shape at PARLEY_E2E_REPLICAS (1 or 2) replicas
 * of each service (serve-platform.ts, run by `make e2e-serve`).
 */
export async function startTestPlatform(overrides: Partial<Config> = {}, dataDir?: string): Promise<TestPlatform> {
  const replicas = serveShapeReplicas(process.env);
  if (replicas !== undefined) {
    const { startServePlatform } = await import("./serve-platform.js");
    return startServePlatform(overrides, replicas);
  }
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), "parley-test-")));
  // Tests send faster than people; the rate limit has tests of its own that set it low.
  const config: Config = {
    ...loadConfig({ port: "0", dataDir: dir, logLevel: "silent" }, {}),
    framesPerSecond: 10_000,
    frameBurst: 10_000,
    ...overrides,
  };
  const platform = await startDevPlatform(config, createLogger(config.logLevel));
  const clients: ParleyClient[] = [];
  return {
    ...platform,
    dataDir: dir,
    token: (userId, ttlSeconds = 3600) => platform.tokens.issue(userId, ttlSeconds),
    async open(userId, options = {}) {
      const client = await openSdkClient(platform.websocketUrl, await platform.tokens.issue(userId, 3600), options);
      clients.push(client);
      return client;
    },
    async dispose() {
      await Promise.all(clients.map((c) => c.close()));
      await platform.stop();
      if (dataDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file whose tests each start their own platform: the returned `start` starts
 * one, and it is disposed after the test that started it.
 */
export function platformPerTest(): (overrides?: Partial<Config>) => Promise<TestPlatform> {
  let platform: TestPlatform | undefined;
  afterEach(async () => {
    await platform?.dispose();
    platform = undefined;
  });
  return async (overrides = {}) => {
    platform = await startTestPlatform(overrides);
    return platform;
  };
}

/** The replicas of each service asked for by PARLEY_E2E_SHAPE=serve, or undefined for parley dev. */
function serveShapeReplicas(env: NodeJS.ProcessEnv): number | undefined {
  const shape = env.PARLEY_E2E_SHAPE ?? "dev";
  if (shape === "dev") return undefined;
  if (shape !== "serve") throw new Error(`PARLEY_E2E_SHAPE must be dev or serve (got ${JSON.stringify(shape)})`);
  const replicas = env.PARLEY_E2E_REPLICAS ?? "1";
  if (replicas !== "1" && replicas !== "2") throw new Error(`PARLEY_E2E_REPLICAS must be 1 or 2 (got ${JSON.stringify(replicas)})`);
  return Number(replicas);
}
