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
    if (!Number.isFinite(windowMs) || windowMs < 1) throw new Error(`a claim window must be at least 1 ms (got ${windowMs})`);
    const reply = await this.client.set(`${this.prefix}once:${key}`, "1", "PX", Math.ceil(windowMs), "NX");
    return reply === "OK";
  }

}
