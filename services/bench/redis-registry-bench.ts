#!/usr/bin/env node
/**
 * Throughput of RedisConnectionRegistry against a real Redis:
 *   node dist/services/bench/redis-registry-bench.js [--url redis://127.0.0.1:26379 | --cluster host:port,...]
 * Without either, the standalone server of hack/infra.sh (PARLEY_TEST_REDIS_URL, else its endpoints.env).
 * Registers users x devices routes spread over gateways, refreshes them as the gateways'
 * heartbeat rounds do, then looks routes up; prints operations per second. Works under
 * its own random key prefix and deletes it afterwards. A measurement, not a test.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import type { DeviceRoute } from "../ports/connection-registry.js";
import { closeClient, createRedisClient, type RedisClient } from "../adapters/redis/redis-client.js";
import { RedisConnectionRegistry } from "../adapters/redis/redis-connection-registry.js";
import { unlinkKeys } from "./backend-cleanup.js";
import { runWindowed } from "./flows.js";
import { readInfraEndpoint } from "./infra-endpoints.js";

interface BenchOptions {
  users: number;
  devices: number;
  gateways: number;
  /** Calls in flight at once, as many concurrent requests on one service instance. */
  concurrency: number;
  lookups: number;
}

export async function benchRegistry(client: RedisClient, options: BenchOptions): Promise<Record<string, number>> {
  const keyPrefix = `parley-bench:${randomUUID()}:`;
  const registry = new RedisConnectionRegistry(client, { keyPrefix });
  const routes: DeviceRoute[] = [];
  for (let u = 0; u < options.users; u++) {
    for (let d = 0; d < options.devices; d++) {
      routes.push({ userId: `user-${u}`, deviceId: `device-${d}`, connectionId: randomUUID(), gatewayId: `gateway-${(u * options.devices + d) % options.gateways}` });
    }
  }
  const ttlMs = 120_000;
  try {
    const registerSeconds = await timed(() => inParallel(routes, options.concurrency, (route) => registry.register(route, ttlMs)));
    const byGateway = new Map<string, DeviceRoute[]>();
    for (const route of routes) {
      const own = byGateway.get(route.gatewayId) ?? [];
      own.push(route);
      byGateway.set(route.gatewayId, own);
    }
    // One heartbeat round: every gateway refreshes all its routes in one call, the gateways at once.
    const refreshSeconds = await timed(() => Promise.all([...byGateway.values()].map((own) => registry.refresh(own, ttlMs))));
    const users = Array.from({ length: options.lookups }, (_, i) => `user-${(i * 7919) % options.users}`);
    const lookupSeconds = await timed(() => inParallel(users, options.concurrency, (user) => registry.routesFor(user)));
    const sequential = users.slice(0, Math.min(2_000, users.length));
    const sequentialSeconds = await timed(async () => {
      for (const user of sequential) await registry.routesFor(user);
    });
    const counted = [...(await registry.connectionsPerGateway()).values()].reduce((a, b) => a + b, 0);
    if (counted !== routes.length) throw new Error(`counted ${counted} routes, registered ${routes.length}`);
    return {
      routes: routes.length,
      registerPerSecond: Math.round(routes.length / registerSeconds),
      refreshedRoutesPerSecond: Math.round(routes.length / refreshSeconds),
      registerAndRefreshPerSecond: Math.round(routes.length / (registerSeconds + refreshSeconds)),
      routesForPerSecond: Math.round(users.length / lookupSeconds),
      routesForSequentialPerSecond: Math.round(sequential.length / sequentialSeconds),
    };
  } finally {
    await registry.close();
    await unlinkKeys(client, `${keyPrefix}*`);
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Calls `work` on every item, `concurrency` calls in flight at once. */
function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  return runWindowed(
    items.length,
    concurrency,
    () => true,
    async (i) => {
      await work(items[i] as T);
    },
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      cluster: { type: "string" },
      users: { type: "string", default: "20000" },
      devices: { type: "string", default: "2" },
      gateways: { type: "string", default: "4" },
      concurrency: { type: "string", default: "100" },
      lookups: { type: "string", default: "100000" },
    },
  });
  const client = createRedisClient(values.cluster ? { clusterNodes: values.cluster } : { url: values.url ?? readInfraEndpoint("PARLEY_TEST_REDIS_URL", "Redis with 'hack/infra.sh up redis', or pass --url") });
  try {
    const figures = await benchRegistry(client, {
      users: Number(values.users),
      devices: Number(values.devices),
      gateways: Number(values.gateways),
      concurrency: Number(values.concurrency),
      lookups: Number(values.lookups),
    });
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await closeClient(client);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
