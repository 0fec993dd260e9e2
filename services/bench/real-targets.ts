/**
 * The targets of issue 14 that `make bench-real` prints beside its figures. They are
 * figures, not pass or fail: the benchmark never fails because of a number.
 */

export interface TargetInputs {
  /** The best acks/s of the 1:1 runs. */
  oneToOnePeak: number | null;
  /** Operations/s of the durable minimum in the same run. */
  durableMinimum: number | null;
  halfPeakAckP99Ms: number | null;
  groupMembers: number | null;
  /** The best deliveries/s of the group runs. */
  groupDeliveriesPerSecond: number | null;
  /** The highest event-loop delay p99 of any Parley process during the group runs. */
  groupLoopDelayP99Ms: number | null;
}

export const TARGETS = {
  oneToOneAcksPerSecond: 2_500,
  shareOfDurableMinimum: 0.5,
  halfPeakAckP99Ms: 50,
  fanOutMembers: 10_000,
  fanOutDeliveriesPerSecond: 50_000,
  loopDelayP99Ms: 100,
} as const;

function verdict(met: boolean): string {
  return met ? "met" : "MISSED";
}

function line(label: string, figure: string, target: string, met: boolean | null): string {
  return `  ${label.padEnd(38)} ${figure.padStart(14)}   target ${target.padEnd(22)} ${met === null ? "not measured" : verdict(met)}`;
}

export function describeTargets(t: TargetInputs): string[] {
  const share = t.oneToOnePeak !== null && t.durableMinimum !== null && t.durableMinimum > 0 ? t.oneToOnePeak / t.durableMinimum : null;
  const fanOutNote = t.groupMembers !== null && t.groupMembers < TARGETS.fanOutMembers ? ` (${t.groupMembers} members; the target is for ${TARGETS.fanOutMembers})` : "";
  return [
    "Targets (issue 14; figures, not a verdict on the run)",
    line("1:1 peak, acks/s", String(t.oneToOnePeak ?? "-"), `≥ ${TARGETS.oneToOneAcksPerSecond}`, t.oneToOnePeak === null ? null : t.oneToOnePeak >= TARGETS.oneToOneAcksPerSecond),
    line("1:1 peak ÷ durable minimum", share === null ? "-" : `${share.toFixed(2)}×`, `≥ ${TARGETS.shareOfDurableMinimum}×`, share === null ? null : share >= TARGETS.shareOfDurableMinimum),
    line("ack p99 at half of the peak, ms", String(t.halfPeakAckP99Ms ?? "-"), `≤ ${TARGETS.halfPeakAckP99Ms}`, t.halfPeakAckP99Ms === null ? null : t.halfPeakAckP99Ms <= TARGETS.halfPeakAckP99Ms),
    line(
      `group fan-out, deliveries/s${fanOutNote === "" ? "" : "*"}`,
      String(t.groupDeliveriesPerSecond ?? "-"),
      `≥ ${TARGETS.fanOutDeliveriesPerSecond}`,
      t.groupDeliveriesPerSecond === null ? null : t.groupDeliveriesPerSecond >= TARGETS.fanOutDeliveriesPerSecond,
    ),
    line("event-loop delay p99 in the group runs", t.groupLoopDelayP99Ms === null ? "-" : `${t.groupLoopDelayP99Ms} ms`, `≤ ${TARGETS.loopDelayP99Ms} ms`, t.groupLoopDelayP99Ms === null ? null : t.groupLoopDelayP99Ms <= TARGETS.loopDelayP99Ms),
    ...(fanOutNote === "" ? [] : [`  *${fanOutNote.trim()}: run with --group-members ${TARGETS.fanOutMembers} for the figure of record`]),
  ];
}
