import type { OncePerWindow } from "../../ports/once-per-window.js";
import { PrefixedRedisAdapter } from "./redis-client.js";

/**
 * Claims in Redis (standalone or Cluster): one key per claim, `P once:<key>`, set with
 * SET NX PX, so the first replica to claim wins and Redis ends the claim by itself. One
 * key per command, so a cluster needs no hash tag. Windows are measured on the Redis
 * node's clock.
 */
export class RedisOncePerWindow extends PrefixedRedisAdapter implements OncePerWindow {
  async claim(key: string, windowMs: number): Promise<boolean> {
    const [granted] = await this.claimEach([key], windowMs);
    return granted ?? false;
  }

  /**
   * One SET NX PX per key, all issued together: the client pipelines them (per node in a
   * cluster), so a message's thousand recipients cost one round trip, not a thousand.
   */
  async claimEach(keys: readonly string[], windowMs: number): Promise<boolean[]> {
    if (!Number.isFinite(windowMs) || windowMs < 1) throw new Error(`a claim window must be at least 1 ms (got ${windowMs})`);
    const window = Math.ceil(windowMs);
    const replies = await Promise.all(keys.map((key) => this.client.set(`${this.prefix}once:${key}`, "1", "PX", window, "NX")));
    return replies.map((reply) => reply === "OK");
  }

}
