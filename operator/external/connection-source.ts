import { RedisConnectionRegistry } from "../../services/adapters/redis/redis-connection-registry.js";
import type { RedisConnectionOptions } from "../../services/adapters/redis/redis-client.js";
import type { ConnectionRegistry } from "../../services/ports/connection-registry.js";
import type { ClusterView } from "../builders/cluster.js";
import { canonicalJson } from "../builders/environment.js";
import type { Credentials } from "./external-state.js";

/** Live connections per gateway id of one cluster: what the autoscaler reads. */
export interface ConnectionSource {
  connectionsPerGateway(view: ClusterView, credentials: Credentials): Promise<Map<string, number>>;
  /** The cluster is gone: drop what was kept for it. */
  forget(uid: string): Promise<void>;
  close(): Promise<void>;
}

const READ_TIMEOUT_MS = 5_000;

/**
 * Reads the connection registry the gateways write (services/adapters/redis), with the
 * key prefix the services use: `parley:<cluster>:`. One registry client per cluster,
 * rebuilt when its Redis settings change.
 */
export class RegistryConnectionSource implements ConnectionSource {
  private readonly registries = new Map<string, { config: string; registry: ConnectionRegistry }>();

  constructor(private readonly open: (connection: RedisConnectionOptions, keyPrefix: string) => ConnectionRegistry = defaultOpen) {}

  async connectionsPerGateway(view: ClusterView, credentials: Credentials): Promise<Map<string, number>> {
    const connection = redisConnection(view, credentials);
    const config = canonicalJson({ connection, prefix: view.redisKeyPrefix });
    let entry = this.registries.get(view.uid);
    if (entry?.config !== config) {
      if (entry) await entry.registry.close().catch(() => undefined);
      entry = { config, registry: this.open(connection, view.redisKeyPrefix) };
      this.registries.set(view.uid, entry);
    }
    return withTimeout(entry.registry.connectionsPerGateway(), READ_TIMEOUT_MS, "reading the connection registry");
  }

  async forget(uid: string): Promise<void> {
    const entry = this.registries.get(uid);
    this.registries.delete(uid);
    await entry?.registry.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.registries.keys()].map((uid) => this.forget(uid)));
  }
}

function defaultOpen(connection: RedisConnectionOptions, keyPrefix: string): ConnectionRegistry {
  return new RedisConnectionRegistry(connection, { keyPrefix });
}

/** How to reach a cluster's Redis, with the password from its Secret. */
export function redisConnection(view: ClusterView, credentials: Credentials): RedisConnectionOptions {
  const { redis } = view.spec;
  if (redis.clusterNodes !== undefined) {
    return { clusterNodes: redis.clusterNodes, ...(credentials.redisPassword === undefined ? {} : { password: credentials.redisPassword }) };
  }
  const url = new URL(redis.url ?? "redis://localhost:6379");
  if (credentials.redisPassword !== undefined) url.password = credentials.redisPassword;
  return { url: url.toString() };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}
