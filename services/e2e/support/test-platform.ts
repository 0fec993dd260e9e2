import { mkdtemp, rm } from "node:fs/promises";
import { afterEach } from "vitest";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ParleyClient, type ConnectOptions } from "../../client/parley-client.js";
import { loadConfig, type Config } from "../../runtime/config.js";
import { startDevPlatform, type RunningPlatform } from "../../app/dev-platform.js";
import { createLogger } from "../../runtime/logger.js";

export interface TestPlatform extends RunningPlatform {
  dataDir: string;
  /** Connects `userId` with a fresh token; closed by `dispose`. */
  connect(userId: string, options?: Partial<ConnectOptions>): Promise<ParleyClient>;
  token(userId: string, ttlSeconds?: number): Promise<string>;
  /** Stops the platform, closes every client and removes the data directory. */
  dispose(): Promise<void>;
}

/** A platform on a free port and a fresh data directory, as `parley dev` runs it. */
export async function startTestPlatform(overrides: Partial<Config> = {}, dataDir?: string): Promise<TestPlatform> {
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
    async connect(userId, options = {}) {
      const client = await ParleyClient.connect({
        url: platform.websocketUrl,
        token: await platform.tokens.issue(userId, 3600),
        ...options,
      });
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
