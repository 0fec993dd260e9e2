import type { ReconnectOptions } from "./types.js";

const DEFAULTS = { initialDelayMs: 500, maxDelayMs: 30_000, multiplier: 2 } as const;

/**
 * The delay before reconnection attempt `attempt` (0 for the first): exponential, capped,
 * with "equal jitter" (half fixed, half random) so that clients dropped together by one
 * server do not all come back in the same instant, yet none retries at once.
 */
export function reconnectDelayMs(attempt: number, options: ReconnectOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialDelayMs ?? DEFAULTS.initialDelayMs;
  const max = options.maxDelayMs ?? DEFAULTS.maxDelayMs;
  const multiplier = options.multiplier ?? DEFAULTS.multiplier;
  const ceiling = Math.min(max, initial * multiplier ** Math.min(attempt, 50));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
