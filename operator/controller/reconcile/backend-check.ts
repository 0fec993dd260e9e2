import { digest } from "../../builders/environment.js";
import { conditionOf, type ConditionType } from "../conditions.js";
import type { EventRecorder } from "../events.js";
import { messageOf } from "./errors.js";
import type { Backend, BackendResult, ReconcileContext } from "./step.js";

const CONDITION_OF: Record<Backend, ConditionType> = { kafka: "KafkaReady", cassandra: "CassandraReady", storage: "StorageReady" };
const UNAVAILABLE: Record<Backend, string> = { kafka: "KafkaUnavailable", cassandra: "CassandraUnavailable", storage: "StorageUnavailable" };

export function conditionOfBackend(backend: Backend): ConditionType {
  return CONDITION_OF[backend];
}

export interface BackendCheckOptions {
  backend: Backend;
  events: EventRecorder;
  /** How long a success stands for the same inputs before the back end is checked again. */
  resyncMs: number;
}

/**
 * What every back-end step shares: a back end whose Secret is missing is not tried; a
 * success is remembered per cluster for the same inputs (spec part and credentials)
 * until resyncMs has passed, so the rollout's own Deployment events do not rerun
 * migrations; a failure becomes the back end's condition (with a Warning Event when it
 * is new) and never a throw, so the other steps still run.
 */
export class BackendCheck {
  private readonly checked = new Map<string, { digest: string; at: number; result: BackendResult }>();

  constructor(private readonly options: BackendCheckOptions) {}

  /**
   * @param inputs everything the set-up depends on: a change runs it again at once.
   * @param ensure sets the back end up and says what it found; throws when it cannot.
   */
  async run(ctx: ReconcileContext, inputs: unknown, ensure: () => Promise<BackendResult>): Promise<BackendResult> {
    const { backend } = this.options;
    const missing = ctx.missing[backend];
    const result = missing === undefined ? await this.check(ctx, inputs, ensure) : { ok: false, reason: "SecretUnavailable", message: missing };
    ctx.backends[backend] = result;
    ctx.setCondition({ type: CONDITION_OF[backend], status: result.ok ? "True" : "False", reason: result.reason, message: result.message });
    return result;
  }

  forget(uid: string): void {
    this.checked.delete(uid);
  }

  private async check(ctx: ReconcileContext, inputs: unknown, ensure: () => Promise<BackendResult>): Promise<BackendResult> {
    const { backend, events, resyncMs } = this.options;
    const { cluster, view } = ctx;
    const inputDigest = digest(inputs);
    const previous = this.checked.get(view.uid);
    const nowMs = ctx.now.getTime();
    if (previous?.digest === inputDigest && nowMs - previous.at < resyncMs) return previous.result;
    try {
      const result = await ensure();
      this.checked.set(view.uid, { digest: inputDigest, at: nowMs, result });
      return result;
    } catch (error) {
      this.checked.delete(view.uid);
      const message = messageOf(error);
      const before = conditionOf(cluster.status, CONDITION_OF[backend]);
      if (before?.status === "True" || before?.message !== message) events.record(cluster, "Warning", UNAVAILABLE[backend], message);
      return { ok: false, reason: UNAVAILABLE[backend], message };
    }
  }
}
