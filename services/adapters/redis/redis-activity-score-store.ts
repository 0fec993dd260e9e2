import type { ActivityScoreStore } from "../../ports/activity-score-store.js";
import type { UserId } from "../../protocol/ids.js";
import { checkKeyPrefix, closeClient, inChunks, openClient, RedisScript, userTag, type RedisAdapterOptions, type RedisClient, type RedisConnection } from "./redis-client.js";

/** A score is kept this many half-lives after its last event: by then it is below 1e-6 of what it was. */
const KEEP_HALF_LIVES = 20;
const CHUNK = 500;

/**
 * Activity scores in Redis (standalone or Cluster): `P{<user>}:activity`, a hash of the
 * score `v` and its time `at` (epoch ms), updated by one script per event so concurrent
 * events from several replicas add up; it expires 20 half-lives after the last event.
 * Reads are one HMGET per user, auto-pipelined, decayed here.
 */
export class RedisActivityScoreStore implements ActivityScoreStore {
  private readonly client: RedisClient;
  private readonly owned: boolean;
  private readonly prefix: string;

  constructor(connection: RedisConnection, options: RedisAdapterOptions) {
    checkKeyPrefix(options.keyPrefix);
    ({ client: this.client, owned: this.owned } = openClient(connection));
    this.prefix = options.keyPrefix;
  }

  async record(userId: UserId, weight: number, at: number, halfLifeMs: number): Promise<void> {
    if (!(halfLifeMs > 0) || !Number.isFinite(weight) || !Number.isFinite(at)) throw new Error("record needs a finite weight and time and a positive half-life");
    await RECORD.run(this.client, [this.key(userId)], [weight, Math.round(at), halfLifeMs, Math.ceil(halfLifeMs * KEEP_HALF_LIVES)]);
  }

  async scores(userIds: readonly UserId[], now: number, halfLifeMs: number): Promise<number[]> {
    return inChunks(userIds, CHUNK, (chunk) =>
      Promise.all(
        chunk.map(async (userId) => {
          const [value, at] = await this.client.hmget(this.key(userId), "v", "at");
          if (value == null || at == null) return 0;
          return Number(value) * Math.pow(0.5, Math.max(0, now - Number(at)) / halfLifeMs);
        }),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.owned) await closeClient(this.client);
  }

  private key(userId: UserId): string {
    return `${this.prefix}${userTag(userId)}:activity`;
  }
}

/** KEYS: the user's hash. ARGV: weight, at, half-life ms, keep ms. */
const RECORD = new RedisScript(`local weight, t, halfLife = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local stored = redis.call('HMGET', KEYS[1], 'v', 'at')
local value, at = tonumber(stored[1]) or 0, tonumber(stored[2]) or t
local latest = math.max(t, at)
value = value * math.pow(0.5, (latest - at) / halfLife) + weight * math.pow(0.5, (latest - t) / halfLife)
redis.call('HSET', KEYS[1], 'v', string.format('%.17g', value), 'at', string.format('%d', latest))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 0`);
