import type { ExpiredPresence, Presence, PresenceChange, PresenceStore } from "../../ports/presence-store.js";
import type { DeviceId, UserId } from "../../protocol/ids.js";
import {
  checkKeyPrefix,
  closeClient,
  fnv1a,
  integer,
  LUA_NOW,
  openClient,
  RedisScript,
  userTag,
  type RedisAdapterOptions,
  type RedisClient,
  type RedisConnection,
} from "./redis-client.js";

export interface RedisPresenceStoreOptions extends RedisAdapterOptions {
  /**
   * How many sorted sets the due index is spread over (default 16): every heartbeat
   * writes one, so in a cluster they spread that load over the nodes. Every store and
   * presence service on the same prefix must use the same number.
   */
  dueShards?: number;
}

/**
 * The presence store in Redis (standalone or Cluster).
 *
 * Layout, with P the key prefix; expiry times are milliseconds on the clock of the Redis
 * node that holds the key (TIME inside the scripts), and a mark counts as online while
 * its expiry is in the future:
 *
 *   P{<user>}:marks        sorted set  <device> -> expiry of its mark (lapsed marks stay until ended)
 *   P{<user>}:seen         string      last sighting, epoch ms (kept: it is the "last seen" shown to others)
 *   Ppresence:due:<n>      sorted set  <user> -> expiry of the user's latest mark; n = hash(user) mod dueShards
 *
 * Marks are not ended by key TTLs: Redis would drop them without anyone being told. A
 * user's two keys share the hash tag `{<user>}`, so markOnline, markOffline and the
 * per-user step of expire() are each one atomic script on one node, and exactly one of
 * them sees a user go from "holds a mark" to "holds none": that one reports the change.
 * That is what keeps reports once-only when several presence services sweep together.
 *
 * The due index only nominates users to look at; it lives in other slots, so it is
 * written after the user's keys (ZADD GT: it only moves later). A sweep reads the users
 * due by the index, runs the per-user script for each (which decides), then drops the
 * index entry only if its score is still the one it read, so a heartbeat that raced the
 * sweep keeps its entry. If the index write after a markOnline is lost (a dropped
 * connection), get() still shows the truth; only the expiry report for that user waits
 * for their next markOnline or markOffline.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly client: RedisClient;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly dueShards: number;

  constructor(connection: RedisConnection, options: RedisPresenceStoreOptions) {
    checkKeyPrefix(options.keyPrefix);
    const dueShards = options.dueShards ?? DEFAULT_DUE_SHARDS;
    if (!Number.isInteger(dueShards) || dueShards < 1 || dueShards > 1024) throw new Error(`dueShards must be 1-1024 (got ${dueShards})`);
    ({ client: this.client, owned: this.owned } = openClient(connection));
    this.prefix = options.keyPrefix;
    this.dueShards = dueShards;
  }

  async markOnline(userId: UserId, deviceId: DeviceId, ttlMs: number, at: Date): Promise<PresenceChange> {
    if (!Number.isFinite(ttlMs) || ttlMs < 1) throw new Error(`a presence TTL must be at least 1 ms (got ${ttlMs})`);
    const reply = await MARK_ONLINE.run(this.client, this.userKeys(userId), [deviceId, Math.ceil(ttlMs), at.getTime()]);
    const [changed, lastSeen, latestExpiry] = integers(reply, 3, "markOnline");
    await this.client.call("ZADD", this.dueKey(userId), "GT", latestExpiry, userId);
    return { changed: changed === 1, presence: { online: true, lastSeen: new Date(lastSeen) } };
  }

  async markOffline(userId: UserId, deviceId: DeviceId, at: Date): Promise<PresenceChange> {
    const reply = await MARK_OFFLINE.run(this.client, this.userKeys(userId), [deviceId, at.getTime()]);
    const [changed, online, lastSeen] = integers(reply, 3, "markOffline");
    // The due entry, if any, is dropped by the sweep that finds the user holds no mark.
    return { changed: changed === 1, presence: { online: online === 1, lastSeen: new Date(lastSeen) } };
  }

  async get(userId: UserId): Promise<Presence> {
    const [online, seen, lastSeen] = integers(await GET.run(this.client, this.userKeys(userId), []), 3, "get");
    return { online: online === 1, lastSeen: seen === 1 ? new Date(lastSeen) : null };
  }

  async expire(): Promise<ExpiredPresence[]> {
    const shards = Array.from({ length: this.dueShards }, (_, shard) => this.sweepShard(`${this.prefix}presence:due:${shard}`));
    return (await Promise.all(shards)).flat();
  }

  async close(): Promise<void> {
    if (this.owned) await closeClient(this.client);
  }

  private async sweepShard(dueKey: string): Promise<ExpiredPresence[]> {
    const expired: ExpiredPresence[] = [];
    for (let batch = 0; batch < MAX_BATCHES_PER_SWEEP; batch++) {
      const due = pairs(await DUE.run(this.client, [dueKey], [DUE_BATCH]));
      const settled: string[] = [];
      await Promise.all(
        due.map(async ([userId, dueScore]) => {
          const [outcome, value] = integers(await EXPIRE_USER.run(this.client, this.userKeys(userId), []), 2, "expire");
          if (outcome === STILL_ONLINE) {
            // The index was behind (a lost write): put the user back at their latest expiry.
            await this.client.call("ZADD", dueKey, "GT", value, userId);
            return;
          }
          if (outcome === ENDED_NOW) expired.push({ userId, lastSeen: new Date(value) });
          settled.push(userId, dueScore);
        }),
      );
      if (settled.length > 0) await REMOVE_IF_UNCHANGED.run(this.client, [dueKey], settled);
      if (due.length < DUE_BATCH) break;
    }
    return expired;
  }

  private userKeys(userId: UserId): [string, string] {
    const tag = userTag(userId);
    return [`${this.prefix}${tag}:marks`, `${this.prefix}${tag}:seen`];
  }

  private dueKey(userId: UserId): string {
    return `${this.prefix}presence:due:${fnv1a(userId) % this.dueShards}`;
  }
}

const DEFAULT_DUE_SHARDS = 16;
const DUE_BATCH = 500;
/** A sweep handles at most this many batches per shard; the next sweep takes the rest. */
const MAX_BATCHES_PER_SWEEP = 20;
/** Outcomes of EXPIRE_USER. */
const STILL_ONLINE = 2;
const ENDED_NOW = 1;

/** Lua: raises the seen key to ARGV[n] and sets `seen`. */
const LUA_SEEN = (argIndex: number): string => `local at = tonumber(ARGV[${argIndex}])
local seen = tonumber(redis.call('GET', KEYS[2]) or '')
if seen == nil or at > seen then
  redis.call('SET', KEYS[2], string.format('%d', at))
  seen = at
end`;

/** KEYS: marks, seen. ARGV: device, ttl ms, sighting ms. Returns {changed, lastSeen, latest mark expiry}. */
const MARK_ONLINE = new RedisScript(`${LUA_NOW}
local online = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') > 0
if not online then
  -- Lapsed marks of an offline user are dead: the new mark alone decides when they go offline.
  redis.call('DEL', KEYS[1])
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
${LUA_SEEN(3)}
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {online and 0 or 1, seen, tonumber(latest[2])}`);

/** KEYS: marks, seen. ARGV: device, sighting ms. Returns {changed, online, lastSeen}. */
const MARK_OFFLINE = new RedisScript(`${LUA_NOW}
local held = redis.call('ZCARD', KEYS[1]) > 0
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local remaining = redis.call('ZCARD', KEYS[1])
${LUA_SEEN(2)}
return {(held and remaining == 0) and 1 or 0, remaining > 0 and 1 or 0, seen}`);

/** KEYS: marks, seen. Returns {online, ever seen, lastSeen}. */
const GET = new RedisScript(`${LUA_NOW}
local online = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') > 0
local seen = tonumber(redis.call('GET', KEYS[2]) or '')
return {online and 1 or 0, seen and 1 or 0, seen or 0}`);

/**
 * KEYS: marks, seen. Ends the user's lapsed marks. Returns {0, 0} when they held none
 * (someone else ended them), {1, lastSeen} when this call ended their last mark, or
 * {2, latest expiry} while a mark is still live.
 */
const EXPIRE_USER = new RedisScript(`${LUA_NOW}
if redis.call('ZCARD', KEYS[1]) == 0 then return {0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) == 0 then
  return {1, tonumber(redis.call('GET', KEYS[2]) or '') or now}
end
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {2, tonumber(latest[2])}`);

/** KEYS: a due index. ARGV: batch size. Returns [user, score, ...] of users due by now. */
const DUE = new RedisScript(`${LUA_NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))`);

/** KEYS: a due index. ARGV: user, score, ... Removes each user whose score is still the one given. */
const REMOVE_IF_UNCHANGED = new RedisScript(`for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return 0`);

/** The integers of a script's array reply, exactly `count` of them. */
function integers(reply: unknown, count: 2, what: string): [number, number];
function integers(reply: unknown, count: 3, what: string): [number, number, number];
function integers(reply: unknown, count: number, what: string): number[] {
  if (!Array.isArray(reply) || reply.length !== count) throw new Error(`unexpected reply from Redis for ${what}`);
  return reply.map((value) => integer(value, what));
}

function pairs(reply: unknown): [string, string][] {
  if (!Array.isArray(reply) || reply.length % 2 !== 0 || !reply.every((item) => typeof item === "string")) {
    throw new Error("unexpected reply from Redis for expire");
  }
  const result: [string, string][] = [];
  let member: string | undefined;
  for (const item of reply) {
    if (member === undefined) {
      member = item;
    } else {
      result.push([member, item]);
      member = undefined;
    }
  }
  return result;
}
