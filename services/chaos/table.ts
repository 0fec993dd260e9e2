/** The markdown table of chaos results that docs/operations.md carries. */
import type { ScenarioResult } from "./scenario.js";

export const TABLE_HEADER = [
  "| Scenario | Fault (s) | Sent | Acked | Delivered | In history | Lost | Duplicated | Recovery (s) | Longest ack gap (s) | Failed sends (retried) | Notes |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
];

const seconds = (ms: number | null): string => (ms === null ? "none" : (ms / 1000).toFixed(1));

export function tableRow(result: ScenarioResult): string {
  const notes = [
    result.storedUnacked > 0 ? `${result.storedUnacked} stored but unacked` : "",
    result.acked < result.sent ? `${result.sent - result.acked} never acked` : "",
    result.repeatedDeliveries > 0 ? `${result.repeatedDeliveries} delivered twice` : "",
    result.reconnects > 0 ? `${result.reconnects} reconnects` : "",
    ...result.examples,
    ...result.problems,
    ...result.notes,
  ].filter((note) => note !== "");
  return `| ${result.scenario} | ${seconds(result.faultMs)} | ${result.sent} | ${result.acked} | ${result.delivered} | ${result.inHistory} | ${result.lost} | ${result.duplicated} | ${seconds(result.recoveryMs)} | ${seconds(result.longestAckGapMs)} | ${result.sendFailures} | ${notes.join("; ").replaceAll("|", "/")} |`;
}

/** A scenario that could not run: its row says why. */
export function failedRow(scenario: string, error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
  return `| ${scenario} | | | | | | | | | | | did not complete: ${message.replaceAll("|", "/").slice(0, 200)} |`;
}
