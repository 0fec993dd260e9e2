import { describe, expect, it } from "vitest";
import { Metrics } from "./metrics.js";

/** The metric families a registry exposes, from the `# TYPE` lines of its text format. */
async function families(metrics: Metrics): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1] ?? "");
}

describe("a process's metrics", () => {
  it("keeps the standard process and Node.js metrics under their usual names, for stock dashboards", async () => {
    const names = await families(new Metrics());
    expect(names).toEqual(expect.arrayContaining(["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_p99_seconds", "nodejs_heap_size_used_bytes"]));
    expect(names.filter((name) => /^parley_(process|nodejs)_/.test(name))).toEqual([]);
  });

  it("names every metric of Parley's own parley_*", async () => {
    const names = await families(new Metrics());
    const standard = (name: string): boolean => name.startsWith("process_") || name.startsWith("nodejs_");
    const own = names.filter((name) => !standard(name));
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((name) => !name.startsWith("parley_"))).toEqual([]);
  });
});
