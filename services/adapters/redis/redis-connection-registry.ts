import { Cluster } from "ioredis";
import type { ConnectionRegistry, DeviceRoute } from "../../ports/connection-registry.js";
import type { UserId } from "../../protocol/ids.js";
import { inChunks, integer, LUA_NOW, PrefixedRedisAdapter, RedisScript, stringList, userTag } from "./redis-client.js";

/**
 * The connection registry in Redis (standalone or Cluster).
 *
 * Layout, with P the key prefix; every score is an expiry time in milliseconds on the
 * clock of the Redis node holding the key (TIME inside the scripts), and an entry is
 * live while its score is in the future:
 *
 *   P{<user>}:routes            sorted set  ["<connectionId>","<deviceId>","<gatewayId>"] -> expiry
 *   Pgateway:<gateway>:connections  sorted set  ["<user>","<connectionId>"] -> expiry
 *   Pgateways                   sorted set  <gateway> -> latest expiry of its connections
 *
 * Each key's own TTL is set to its latest score, so once its last entry lapses Redis
 * deletes it: a gateway that died without unregistering leaves nothing behind, its
 * entries stop counting the moment they lapse (reads compare scores) and its keys vanish
 * by themselves. Lapsed entries in keys that live on are pruned on the next write.
 *
 * Complexity: routesFor reads one sorted set, O(log D + d) for a user with D entries of
 * which d are live: O(devices of that user). register is three O(log n) writes (user,
 * gateway, index) sent together; unregister two ZREMs; refresh one script per user then
 * one per gateway (chunked), all pipelined; connectionsPerGateway one read of the index
 * and one ZCOUNT per live gateway, O(G log n).
 *
 * The user key and the gateway keys live in different slots of a cluster, so they are
 * not written atomically together. Both are idempotent and expire on their own, so a
 * half-done write (a lost connection) heals within one TTL; refresh extends the gateway
 * entries only of routes the user key still holds live, so it never revives a route.
 */
export class RedisConnectionRegistry extends PrefixedRedisAdapter implements ConnectionRegistry {
  async register(route: DeviceRoute, ttlMs: number): Promise<void> {
    const ttl = positiveTtl(ttlMs);
    await Promise.all([
      ADD.run(this.client, [this.routesKey(route.userId)], [ttl, "", routeMember(route)]),
      ADD.run(this.client, [this.gatewayKey(route.gatewayId)], [ttl, "", gatewayMember(route)]),
      ADD.run(this.client, [this.gatewaysKey()], [ttl, "GT", route.gatewayId]),
    ]);
  }

  async refresh(routes: readonly DeviceRoute[], ttlMs: number): Promise<void> {
    if (routes.length === 0) return;
    const ttl = positiveTtl(ttlMs);
    const byUser = groupBy(routes, (route) => route.userId);
    const extended = (
      await inChunks([...byUser], USERS_IN_FLIGHT, (users) =>
        Promise.all(
          users.map(async ([userId, userRoutes]) => {
            const members = new Map(userRoutes.map((route) => [routeMember(route), route]));
            const reply = await EXTEND.run(this.client, [this.routesKey(userId)], [ttl, ...members.keys()]);
            return stringList(reply, "refresh").flatMap((member) => members.get(member) ?? []);
          }),
        ),
      )
    ).flat();
    const byGateway = groupBy(extended, (route) => route.gatewayId);
    const writes: Promise<unknown>[] = [];
    for (const [gatewayId, gatewayRoutes] of byGateway) {
      for (let i = 0; i < gatewayRoutes.length; i += MEMBERS_PER_SCRIPT) {
        const members = gatewayRoutes.slice(i, i + MEMBERS_PER_SCRIPT).map(gatewayMember);
        writes.push(EXTEND.run(this.client, [this.gatewayKey(gatewayId)], [ttl, ...members]));
      }
    }
    if (byGateway.size > 0) writes.push(ADD.run(this.client, [this.gatewaysKey()], [ttl, "GT", ...byGateway.keys()]));
    await Promise.all(writes);
  }

  async unregister(route: DeviceRoute): Promise<void> {
    await Promise.all([
      this.client.zrem(this.routesKey(route.userId), routeMember(route)),
      this.client.zrem(this.gatewayKey(route.gatewayId), gatewayMember(route)),
    ]);
  }

  async routesFor(userId: UserId): Promise<DeviceRoute[]> {
    const members = stringList(await LIVE.run(this.client, [this.routesKey(userId)], []), "routesFor");
    return members.map((member) => parseRouteMember(userId, member));
  }

  /**
   * On a standalone Redis, one script reads up to USERS_PER_SCRIPT users' keys on one
   * clock reading, and the scripts of all chunks are written together (auto-pipelined):
   * one round trip. In a cluster every user's key lives in its own slot and a script may
   * only touch one slot, so it is one script per user, still all written at once without
   * waiting for answers (one round trip per node, not one per user).
   */
  async routesForUsers(userIds: readonly UserId[]): Promise<Map<UserId, DeviceRoute[]>> {
    const users = [...new Set(userIds)];
    const routes = new Map<UserId, DeviceRoute[]>();
    if (this.client instanceof Cluster) {
      const lists = await Promise.all(users.map((userId) => this.routesFor(userId)));
      users.forEach((userId, i) => routes.set(userId, lists[i] ?? []));
      return routes;
    }
    const chunks: UserId[][] = [];
    for (let i = 0; i < users.length; i += USERS_PER_SCRIPT) chunks.push(users.slice(i, i + USERS_PER_SCRIPT));
    const replies = await Promise.all(chunks.map((chunk) => LIVE_MANY.run(this.client, chunk.map((userId) => this.routesKey(userId)), [])));
    chunks.forEach((chunk, c) => {
      const reply = replies[c];
      if (!Array.isArray(reply) || reply.length !== chunk.length) throw new Error("unexpected reply from Redis for routesForUsers");
      chunk.forEach((userId, i) => routes.set(userId, stringList(reply[i], "routesForUsers").map((member) => parseRouteMember(userId, member))));
    });
    return routes;
  }

  async connectionsPerGateway(): Promise<Map<string, number>> {
    const gateways = stringList(await LIVE.run(this.client, [this.gatewaysKey()], []), "connectionsPerGateway");
    const counts = await Promise.all(
      gateways.map(async (gatewayId) => integer(await COUNT.run(this.client, [this.gatewayKey(gatewayId)], []), "connectionsPerGateway")),
    );
    const perGateway = new Map<string, number>();
    gateways.forEach((gatewayId, i) => {
      const count = counts[i] ?? 0;
      if (count > 0) perGateway.set(gatewayId, count);
    });
    return perGateway;
  }


  private routesKey(userId: UserId): string {
    return `${this.prefix}${userTag(userId)}:routes`;
  }

  private gatewayKey(gatewayId: string): string {
    return `${this.prefix}gateway:${gatewayId}:connections`;
  }

  private gatewaysKey(): string {
    return `${this.prefix}gateways`;
  }
}

/** Users whose refresh scripts are in flight at once. */
const USERS_IN_FLIGHT = 1000;
/** Users whose routes one script reads on a standalone Redis: bounds how long one script holds up the server. */
const USERS_PER_SCRIPT = 500;
/** Entries one script extends: bounds how long one script holds up a Redis node. */
const MEMBERS_PER_SCRIPT = 500;

/** Sets members' expiry to now + ttl (with GT: only later than they have); prunes lapsed entries; the key lives as long as its latest entry. */
const ADD = new RedisScript(`${LUA_NOW}
local key = KEYS[1]
local expiry = now + tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
for i = 3, #ARGV do
  if ARGV[2] == 'GT' then
    redis.call('ZADD', key, 'GT', expiry, ARGV[i])
  else
    redis.call('ZADD', key, expiry, ARGV[i])
  end
end
local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, latest[2])
return expiry`);

/** Sets the expiry of members still live to now + ttl and returns them; lapsed or missing members stay gone. */
const EXTEND = new RedisScript(`${LUA_NOW}
local key = KEYS[1]
local expiry = now + tonumber(ARGV[1])
local extended = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', key, ARGV[i])
  if score and tonumber(score) > now then
    redis.call('ZADD', key, 'XX', expiry, ARGV[i])
    extended[#extended + 1] = ARGV[i]
  end
end
if #extended > 0 then
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', key, latest[2])
end
return extended`);

/** Live members. */
const LIVE = new RedisScript(`${LUA_NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`);

/** Live members of each key, in the order of KEYS, on one clock reading. */
const LIVE_MANY = new RedisScript(`${LUA_NOW}
local live = {}
for i = 1, #KEYS do
  live[i] = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. now, '+inf')
end
return live`);

/** Number of live members. */
const COUNT = new RedisScript(`${LUA_NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`);

function routeMember(route: DeviceRoute): string {
  return JSON.stringify([route.connectionId, route.deviceId, route.gatewayId]);
}

function gatewayMember(route: DeviceRoute): string {
  return JSON.stringify([route.userId, route.connectionId]);
}

function parseRouteMember(userId: UserId, member: string): DeviceRoute {
  const parsed: unknown = JSON.parse(member);
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((part) => typeof part === "string")) {
    throw new Error(`malformed route in Redis for user ${userId}: ${member}`);
  }
  const [connectionId, deviceId, gatewayId] = parsed as [string, string, string];
  return { userId, deviceId, connectionId, gatewayId };
}

function positiveTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs < 1) throw new Error(`a route TTL must be at least 1 ms (got ${ttlMs})`);
  return Math.ceil(ttlMs);
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
