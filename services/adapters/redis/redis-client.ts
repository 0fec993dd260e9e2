import { createHash } from "node:crypto";
import { Cluster, Redis } from "ioredis";

/**
 * What the Redis adapters share: how they get a client (a standalone server or a Redis
 * Cluster, given or built from options), how they name keys, and how they run Lua.
 *
 * Every adapter works on both kinds of client. Keys that one script touches together
 * share a hash tag (`{<userId>}`), so in a cluster they live in one slot and the script
 * stays atomic; nothing else needs two keys at once.
 */
export type RedisClient = Redis | Cluster;

/**
 * One server (or a managed primary) by URL, or a Redis Cluster by some of its nodes.
 * `commandTimeoutMs` (default REDIS_COMMAND_TIMEOUT_MS) bounds how long a command waits
 * for its answer, queued while disconnected included.
 */
export type RedisConnectionOptions = ({ url: string } | { clusterNodes: string | readonly string[]; password?: string }) & { commandTimeoutMs?: number };

/**
 * How long a command may wait for Redis. ioredis's own default is forever: a Redis that
 * stops answering without closing the connection (a partition, a stalled server) would
 * hold every caller, such as a WebSocket upgrade counting the user's connections on other
 * gateways, or a push looking up routes. Every command Parley sends is a small read or
 * write, answered in milliseconds, so this is far past any healthy answer.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 5_000;

/**
 * How often a cluster client re-reads the slot map (CLUSTER SLOTS) by itself. ioredis's
 * default is never: it re-reads only after a MOVED it follows or a lost connection. An
 * auto-pipelined batch whose commands come back with different MOVED replies (a failover:
 * the batch went to the old master's address, now a restarted replica or another node) is
 * neither followed nor re-read, so its commands failed until something else happened to
 * refresh the map (5.5 s in the redis-cluster-failover chaos scenario, docs/operations.md).
 * Every second bounds that to a second, for one small command per client per second.
 */
export const REDIS_CLUSTER_SLOTS_REFRESH_MS = 1_000;

/** A client handed to an adapter stays the caller's; one built from options is the adapter's and closed with it. */
export type RedisConnection = RedisClient | RedisConnectionOptions;

export interface RedisAdapterOptions {
  /**
   * Put before every key and channel name, e.g. `parley:prod:`, so that clusters (and
   * test runs) sharing a Redis do not meet. No `{` or `}`: hash tags are the adapter's.
   */
  keyPrefix: string;
}

export function isRedisClient(connection: RedisConnection): connection is RedisClient {
  return connection instanceof Redis || connection instanceof Cluster;
}

/**
 * Commands ioredis must not auto-pipeline in a cluster: it files a command under the
 * slot of its first argument, which for a script is the SHA, not the key, and then
 * fails the pipeline ("All keys in the pipeline should belong to the same slots
 * allocation group").
 */
const CLUSTER_UNPIPELINED = ["eval", "evalsha"];

/**
 * Builds a client. Commands issued in the same tick are written together (auto
 * pipelining): the adapters issue many independent commands at once.
 */
export function createRedisClient(options: RedisConnectionOptions): RedisClient {
  const commandTimeout = options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS;
  if ("url" in options) return new Redis(options.url, { enableAutoPipelining: true, commandTimeout });
  return new Cluster(parseClusterNodes(options.clusterNodes), {
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: CLUSTER_UNPIPELINED,
    slotsRefreshInterval: REDIS_CLUSTER_SLOTS_REFRESH_MS,
    redisOptions: { commandTimeout, ...(options.password === undefined ? {} : { password: options.password }) },
  });
}

/** `host:port,host:port` (or a list of `host:port`) as ioredis wants startup nodes. */
export function parseClusterNodes(nodes: string | readonly string[]): { host: string; port: number }[] {
  const list = (typeof nodes === "string" ? nodes.split(",") : [...nodes]).map((node) => node.trim()).filter((node) => node !== "");
  if (list.length === 0) throw new Error("no Redis Cluster nodes given (expected host:port,host:port)");
  return list.map((node) => {
    const match = /^(.+):(\d{1,5})$/.exec(node);
    const port = Number(match?.[2]);
    if (!match?.[1] || port < 1 || port > 65535) throw new Error(`not a Redis Cluster node (host:port): ${node}`);
    return { host: match[1].replace(/^\[(.*)\]$/, "$1"), port };
  });
}

/** The client an adapter uses, and whether it built (and so closes) it. */
export function openClient(connection: RedisConnection): { client: RedisClient; owned: boolean } {
  if (isRedisClient(connection)) {
    const { enableAutoPipelining, autoPipeliningIgnoredCommands = [], keyPrefix } = connection.options;
    // ioredis would prefix keys but not every channel, and scripts' keys would no longer match their replies.
    if (keyPrefix) throw new Error("give the Redis adapters a client without the ioredis keyPrefix option; use their keyPrefix option");
    if (connection instanceof Cluster && enableAutoPipelining && !CLUSTER_UNPIPELINED.every((c) => autoPipeliningIgnoredCommands.includes(c))) {
      throw new Error(`a Redis Cluster client with enableAutoPipelining needs autoPipeliningIgnoredCommands: ${JSON.stringify(CLUSTER_UNPIPELINED)}`);
    }
    return { client: connection, owned: false };
  }
  return { client: createRedisClient(connection), owned: true };
}

export async function closeClient(client: RedisClient): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * What a Redis adapter that keeps its keys under a prefix starts from: the prefix, checked,
 * and the client, opened here from options (and then closed by close()) or given by the
 * caller (and then left open for it).
 */
export abstract class PrefixedRedisAdapter {
  protected readonly client: RedisClient;
  protected readonly prefix: string;
  private readonly owned: boolean;

  constructor(connection: RedisConnection, options: RedisAdapterOptions) {
    checkKeyPrefix(options.keyPrefix);
    ({ client: this.client, owned: this.owned } = openClient(connection));
    this.prefix = options.keyPrefix;
  }

  async close(): Promise<void> {
    if (this.owned) await closeClient(this.client);
  }
}

export function checkKeyPrefix(keyPrefix: string): void {
  if (/[{}]/.test(keyPrefix)) throw new Error(`a Redis key prefix may not contain { or } (got "${keyPrefix}")`);
}

/**
 * The hash tag of everything kept per user. User ids are 1-64 characters of
 * `A-Za-z0-9_.@-`; a brace would move the tag, so it is refused rather than mis-sharded.
 */
export function userTag(userId: string): string {
  if (userId === "" || /[{}]/.test(userId)) throw new Error(`not a user id: "${userId}"`);
  return `{${userId}}`;
}

/**
 * A Lua script run by EVALSHA, loaded with EVAL when the server does not know it yet
 * (a restart, a failover, a node that joined). In a cluster it runs on the node of its
 * first key; all its keys must share a slot.
 */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const commands = client as Redis;
    try {
      return await commands.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await commands.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/**
 * Lua that sets `now` to the server's clock in milliseconds. Every expiry is measured
 * on the clock of the Redis node that holds the key, never on a client's: gateways and
 * services with skewed clocks then agree on what has expired.
 */
export const LUA_NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Runs `work` on the items `size` at a time, so a huge batch does not put every command in flight at once. */
export async function inChunks<T, R>(items: readonly T[], size: number, work: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await work(items.slice(i, i + size))));
  return results;
}

/** Reads an integer from a script's reply. */
export function integer(value: unknown, what: string): number {
  const parsed = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
  if (!Number.isSafeInteger(parsed)) throw new Error(`unexpected reply from Redis for ${what}: ${String(value)}`);
  return parsed;
}

export function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new Error(`unexpected reply from Redis for ${what}`);
  }
  return value;
}

/** 32-bit FNV-1a: a stable spread of users over the due shards of an index. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
