import { InvalidArgumentError } from "commander";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "15m", "12h", "7d" -> seconds. */
export function parseDuration(value: string): number {
  const match = /^([1-9]\d{0,5})([smhd])$/.exec(value);
  if (!match?.[1] || !match[2]) throw new InvalidArgumentError(`expected a duration such as 30s, 15m, 12h or 7d, got ${JSON.stringify(value)}`);
  return Number(match[1]) * (UNITS[match[2]] ?? 1);
}
