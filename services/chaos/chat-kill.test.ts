import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { runScenario as RunScenario } from "./scenario.js";

/**
 * The scenario runs from the build (the test's globalSetup makes it): its processes are
 * started with the compiled CLI and benchmark probe that sit beside the compiled runner.
 */
const BUILT_SCENARIO = fileURLToPath(new URL("../../dist/services/chaos/scenario.js", import.meta.url));

/**
 * The short chaos scenario of `make test`: kill -9 of the chat process while four users
 * send, on the real back ends (shared with other tests, so nothing restarts them: only
 * this scenario's own Parley processes are killed). `make chaos` runs the long ones.
 */
describe("chaos, short", () => {
  it("loses and duplicates no acknowledged message when the chat process is killed -9 during traffic", async () => {
    const { runScenario } = (await import(BUILT_SCENARIO)) as { runScenario: typeof RunScenario };
    const log: string[] = [];
    const result = await runScenario("chat-kill", {
      rate: 5,
      beforeMs: 3_000,
      afterMs: 8_000,
      drainMs: 30_000,
      // The gateway's own deadline: on a loaded CI machine a 3 s limit fails the final reads, not the scenario.
      requestTimeoutMs: 10_000,
      log: (text) => log.push(text),
    });
    const summary = JSON.stringify({ ...result, log: log.slice(-20) });
    expect(result.acked, summary).toBeGreaterThan(0);
    expect(result.lost, summary).toBe(0);
    expect(result.duplicated, summary).toBe(0);
    expect(result.problems, summary).toEqual([]);
  }, 300_000);
});
