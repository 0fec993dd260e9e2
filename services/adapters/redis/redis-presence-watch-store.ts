import type { DeviceRoute } from "../../ports/connection-registry.js";
import type { PresenceWatchStore } from "../../ports/presence-watch-store.js";
import type { UserId } from "../../protocol/ids.js";
import { inChunks, integer, PrefixedRedisAdapter, RedisScript, userTag } from "./redis-client.js";

/** Commands in flight at once for one call's many targets. */
const CHUNK = 500;

/**
 * Presence watches in Redis (standalone or Cluster), shared by every presence replica.
 *
 * Layout, with P the key prefix:
 *
 *   Pwatching:{<connection>}   set   the users the connection watches; its TTL is the lease
 *   P{<user>}:watchers         hash  <connection> -> the connection's route (JSON)
 *
 * The connection's set is the truth: it decides the watch limit (one script on one key),
 * carries the lease (PEXPIRE, renewed by heartbeats: one command per heartbeat whatever
 * the number of watches) and vanishes by itself when the lease lapses. The per-user hash
 * only nominates connections; watchersOf keeps those whose set still holds the user and
 * deletes the others' entries. Each command touches one key, so a cluster needs no
 * cross-slot operation.
 *
 * What this costs: an entry left by a connection whose gateway died stays in the watched
 * user's hash until that user's next state change reads it (one SISMEMBER per entry
 * then). A user who never changes state again keeps such entries; they are a few bytes
 * each and never pushed to.
 */
export class RedisPresenceWatchStore extends PrefixedRedisAdapter implements PresenceWatchStore {
  async watch(route: DeviceRoute, targets: readonly UserId[], leaseMs: number, maxTargets: number): Promise<boolean> {
    checkLease(leaseMs);
    const distinct = [...new Set(targets)];
    const keys = distinct.map((target) => this.watchersKey(target));
    const admitted = integer(await WATCH.run(this.client, [this.watchingKey(route.connectionId)], [Math.ceil(leaseMs), maxTargets, ...distinct]), "watch");
    if (admitted !== 1) return false;
    const value = JSON.stringify(route);
    await inChunks(keys, CHUNK, (chunk) => Promise.all(chunk.map((key) => this.client.hset(key, route.connectionId, value))));
    return true;
  }

  async unwatch(connectionId: string, targets: readonly UserId[]): Promise<void> {
    if (targets.length === 0) return;
    await this.client.srem(this.watchingKey(connectionId), ...targets);
    await inChunks([...new Set(targets)], CHUNK, (chunk) => Promise.all(chunk.map((target) => this.client.hdel(this.watchersKey(target), connectionId))));
  }

  async renew(connectionId: string, leaseMs: number): Promise<void> {
    checkLease(leaseMs);
    await this.client.pexpire(this.watchingKey(connectionId), Math.ceil(leaseMs));
  }

  async drop(connectionId: string): Promise<void> {
    const key = this.watchingKey(connectionId);
    const targets = await this.client.smembers(key);
    await this.client.unlink(key);
    await inChunks(targets, CHUNK, (chunk) => Promise.all(chunk.map((target) => this.client.hdel(this.watchersKey(target), connectionId))));
  }

  async watchersOf(target: UserId): Promise<DeviceRoute[]> {
    const key = this.watchersKey(target);
    const entries = Object.entries(await this.client.hgetall(key));
    const live = await inChunks(entries, CHUNK, (chunk) =>
      Promise.all(chunk.map(async ([connectionId]) => (await this.client.sismember(this.watchingKey(connectionId), target)) === 1)),
    );
    const stale = entries.filter((_, i) => !live[i]).map(([connectionId]) => connectionId);
    if (stale.length > 0) await this.client.hdel(key, ...stale);
    return entries.filter((_, i) => live[i]).flatMap(([, value]) => parseRoute(value));
  }


  private watchingKey(connectionId: string): string {
    // Connection ids are the gateways' UUIDs; userTag refuses braces, which would move the hash tag.
    return `${this.prefix}watching:${userTag(connectionId)}`;
  }

  private watchersKey(target: UserId): string {
    return `${this.prefix}${userTag(target)}:watchers`;
  }
}

/** KEYS: the connection's set. ARGV: lease ms, limit, target... Returns 1, or 0 (nothing added) past the limit. */
const WATCH = new RedisScript(`local added = {}
for i = 3, #ARGV do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then added[#added + 1] = ARGV[i] end
end
if redis.call('SCARD', KEYS[1]) > tonumber(ARGV[2]) then
  for _, target in ipairs(added) do redis.call('SREM', KEYS[1], target) end
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`);

function checkLease(leaseMs: number): void {
  if (!Number.isFinite(leaseMs) || leaseMs < 1) throw new Error(`a watch lease must be at least 1 ms (got ${leaseMs})`);
}

/** A route as watch() wrote it; an entry that is not one is skipped (it cannot be pushed to). */
function parseRoute(value: string): DeviceRoute[] {
  try {
    const route = JSON.parse(value) as Partial<DeviceRoute>;
    const fields = [route.userId, route.deviceId, route.connectionId, route.gatewayId];
    return fields.every((field) => typeof field === "string") ? [route as DeviceRoute] : [];
  } catch {
    return [];
  }
}
