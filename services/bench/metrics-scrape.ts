/** Reads a Parley process's /metrics (Prometheus text) into figures, for the benchmarks' reports. */

/** The series `keep` accepts, by series (name and labels) and value. Throws when /metrics cannot be read. */
export async function readMetrics(httpUrl: string, keep: (series: string, value: number) => boolean, timeoutMs = 5_000): Promise<Record<string, number>> {
  const response = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const figures: Record<string, number> = {};
  for (const line of (await response.text()).split("\n")) {
    if (line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    if (space <= 0) continue;
    const series = line.slice(0, space);
    const value = Number(line.slice(space + 1));
    if (keep(series, value)) figures[series] = value;
  }
  return figures;
}

/** As readMetrics, but a failure is said through `progress` and gives no figures: a report without them beats no report. */
export async function readMetricsOrNone(httpUrl: string, keep: (series: string, value: number) => boolean, progress: (text: string) => void): Promise<Record<string, number>> {
  try {
    return await readMetrics(httpUrl, keep);
  } catch (error) {
    progress(`could not read ${httpUrl}/metrics: ${error instanceof Error ? error.message : String(error)}`);
    return {};
  }
}
