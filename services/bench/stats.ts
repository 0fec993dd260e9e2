/** Figures shared by the benchmarks (run.ts, group-fanout.ts, real-backends.ts). */

export interface Percentiles {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of the samples that were taken (NaN marks a missing one). */
export function percentiles(values: ArrayLike<number>): Percentiles | null {
  const taken = Float64Array.from(values).filter((v) => !Number.isNaN(v)).sort();
  if (taken.length === 0) return null;
  const rank = (p: number): number => round2(taken[Math.max(0, Math.ceil((p / 100) * taken.length) - 1)] ?? NaN);
  return { samples: taken.length, p50: rank(50), p95: rank(95), p99: rank(99), max: round2(taken[taken.length - 1] ?? NaN) };
}

export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? Math.round((count / ms) * 1000) : 0;
}

export function kib(bytes: number): number {
  return Math.round(bytes / 1024);
}

/** ASCII text of exactly `bytes` bytes. */
export function benchText(bytes: number): string {
  const unit = "The quick brown fox jumps over the lazy dog. ";
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
}
