import type { BatchLimits, HeldBatch, HeldBatchStore, HoldResult } from "../../ports/held-batch-store.js";
import type { Message } from "../../protocol/frames.js";
import type { UserId } from "../../protocol/ids.js";
import { fnv1a, integer, PrefixedRedisAdapter, RedisScript, stringList, userTag, type RedisAdapterOptions, type RedisConnection } from "./redis-client.js";

export interface RedisHeldBatchStoreOptions extends RedisAdapterOptions {
  /** Sorted sets the due index is spread over (default 8), so in a cluster its writes spread over the nodes. Same on every replica of a prefix. */
  dueShards?: number;
  /** How long a sweep's claim on a due batch lasts before another sweep may take it (default 10 s): the claimer died between claim and take. */
  claimLeaseMs?: number;
}

/**
 * Held idle batches in Redis (standalone or Cluster), shared by every groups replica.
 *
 * Layout, with P the key prefix:
 *
 *   P{<user>}:held       list    the batch's messages as JSON, oldest first (at most maxMessages)
 *   P{<user>}:held-due   string  when the batch is due, epoch ms
 *   Pheld:due:<n>        sorted  <user> -> due time (or a sweep's claim lease); n = hash(user) mod dueShards
 *
 * The messages themselves are held, not their ids: releasing a batch then needs no read
 * of the message store (the groups service has none), and a batch is bounded by
 * maxMessages (50 by default) messages of at most a page's size each.
 *
 * A member's two keys share the hash tag `{<user>}`, so holding, filling and taking a
 * batch are each one script on one node: whoever takes it (the filler at maxMessages, the
 * replica whose timer fires, or a sweep) deletes it in the same step, so a batch is
 * handed over once. The due index lives in other slots and only nominates members: a
 * sweep claims the due ones by moving their score to a lease (one script per shard, so
 * two sweeps never claim the same entry), takes each batch if still due, then drops the
 * entry unless a newer batch re-scored it. A sweep that dies after claiming leaves the
 * entry to come due again when the lease ends. The user keys expire `delayMs +
 * KEEP_MS` after their last write, so a batch whose index entry was lost (a replica died
 * between the two writes and no later message repaired it) does not stay forever.
 */
export class RedisHeldBatchStore extends PrefixedRedisAdapter implements HeldBatchStore {
  private readonly dueShards: number;
  private readonly claimLeaseMs: number;

  constructor(connection: RedisConnection, options: RedisHeldBatchStoreOptions) {
    super(connection, options);
    this.dueShards = options.dueShards ?? DEFAULT_DUE_SHARDS;
    this.claimLeaseMs = options.claimLeaseMs ?? DEFAULT_CLAIM_LEASE_MS;
    if (!Number.isInteger(this.dueShards) || this.dueShards < 1 || this.dueShards > 1024) throw new Error(`dueShards must be 1-1024 (got ${this.dueShards})`);
  }

  hold(userIds: readonly UserId[], message: Message, now: number, { delayMs, maxMessages }: BatchLimits): Promise<HoldResult[]> {
    const json = JSON.stringify(message);
    const keepMs = Math.ceil(delayMs) + KEEP_MS;
    // One script per member, all issued together: the client pipelines them per node.
    return Promise.all(
      userIds.map(async (userId) => {
        const reply = await HOLD.run(this.client, this.userKeys(userId), [json, now, Math.ceil(delayMs), maxMessages, keepMs]);
        if (!Array.isArray(reply) || reply.length < 3) throw new Error("unexpected reply from Redis for hold");
        const opened = integer(reply[0], "hold") === 1;
        const dueAt = integer(reply[1], "hold");
        const full = integer(reply[2], "hold") === 1 ? parseMessages(reply.slice(3)) : null;
        // A new batch is nominated (one taken full at once needs no entry); one already due
        // and no longer nominated (its entry was lost) is again.
        if (full === null && opened) await this.client.zadd(this.dueKey(userId), dueAt, userId);
        else if (full === null && dueAt <= now) await this.client.zadd(this.dueKey(userId), "NX", dueAt, userId);
        return { opened, dueAt, full };
      }),
    );
  }

  async take(userId: UserId, deadline: number): Promise<Message[]> {
    return parseMessages(await TAKE.run(this.client, this.userKeys(userId), [deadline]));
  }

  async takeDue(now: number, limit: number): Promise<HeldBatch[]> {
    const perShard = Math.max(1, Math.ceil(limit / this.dueShards));
    const shards = Array.from({ length: this.dueShards }, (_, shard) => this.sweepShard(`${this.prefix}held:due:${shard}`, now, perShard));
    return (await Promise.all(shards)).flat();
  }

  private async sweepShard(dueKey: string, now: number, limit: number): Promise<HeldBatch[]> {
    const lease = now + this.claimLeaseMs;
    const claimed = stringList(await CLAIM.run(this.client, [dueKey], [now, limit, lease]), "takeDue");
    if (claimed.length === 0) return [];
    const batches = await Promise.all(claimed.map(async (userId) => ({ userId, messages: await this.take(userId, now) })));
    await REMOVE_IF_SCORE.run(this.client, [dueKey], [lease, ...claimed]);
    return batches.filter((batch) => batch.messages.length > 0);
  }

  private userKeys(userId: UserId): [string, string] {
    const tag = userTag(userId);
    return [`${this.prefix}${tag}:held`, `${this.prefix}${tag}:held-due`];
  }

  private dueKey(userId: UserId): string {
    return `${this.prefix}held:due:${fnv1a(userId) % this.dueShards}`;
  }
}

const DEFAULT_DUE_SHARDS = 8;
const DEFAULT_CLAIM_LEASE_MS = 10_000;
/** How long past its due time a batch's keys outlive their last write. */
const KEEP_MS = 600_000;

/**
 * KEYS: list, due. ARGV: message JSON, now, delay, max, keep ms.
 * Returns {opened, dueAt, full, messages... (when full)}.
 */
const HOLD = new RedisScript(`local due = tonumber(redis.call('GET', KEYS[2]) or '')
local opened = 0
if due == nil or redis.call('EXISTS', KEYS[1]) == 0 then
  due = tonumber(ARGV[2]) + tonumber(ARGV[3])
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], string.format('%d', due))
  opened = 1
elseif redis.call('LPOS', KEYS[1], ARGV[1]) then
  -- Already held (a fan-out redone after a replica died): the batch is left as it is.
  return {opened, due, 0}
end
local count = redis.call('RPUSH', KEYS[1], ARGV[1])
if count >= tonumber(ARGV[4]) then
  local messages = redis.call('LRANGE', KEYS[1], 0, -1)
  redis.call('DEL', KEYS[1], KEYS[2])
  local reply = {opened, due, 1}
  for i = 1, #messages do reply[#reply + 1] = messages[i] end
  return reply
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {opened, due, 0}`);

/** KEYS: list, due. ARGV: deadline. Takes the batch if it is due by the deadline; returns its messages (none otherwise). */
const TAKE = new RedisScript(`local due = tonumber(redis.call('GET', KEYS[2]) or '')
if due == nil or due > tonumber(ARGV[1]) then return {} end
local messages = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
return messages`);

/** KEYS: a due index. ARGV: now, limit, lease. Claims up to limit members due by now (their score becomes the lease); returns them. */
const CLAIM = new RedisScript(`local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due do redis.call('ZADD', KEYS[1], 'XX', ARGV[3], due[i]) end
return due`);

/** KEYS: a due index. ARGV: score, member... Removes each member whose score is still the one given. */
const REMOVE_IF_SCORE = new RedisScript(`local score = tonumber(ARGV[1])
for i = 2, #ARGV do
  local current = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if current and tonumber(current) == score then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return 0`);

function parseMessages(reply: unknown): Message[] {
  // Written by hold() from Message objects: their JSON round-trips.
  return stringList(reply, "held batch").map((json) => JSON.parse(json) as Message);
}
