import type { KubeApi } from "../../kube/kube-api.js";
import { conditionOfBackend } from "./backend-check.js";
import { DependencyError } from "./errors.js";
import { BACKENDS, done, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";
import { writeStatusIfChanged } from "./write-status.js";

const REQUEUE_WHILE_PROGRESSING_MS = 30_000;

/**
 * The summary conditions (Progressing, Degraded, Ready, each with observedGeneration)
 * from what the steps before found, and the one status write of the reconcile, only when
 * something changed. Ends the reconcile: a failed back end as a DependencyError (after
 * the status says why) so the queue backs off; otherwise a requeue, sooner while pods roll.
 */
export class StatusStep implements ReconcileStep {
  readonly name = "status";

  constructor(private readonly deps: { kube: KubeApi; resyncMs: number }) {}

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const { rollouts, view } = ctx;
    const notDone = rollouts.filter((r) => !r.done);
    const stuck = rollouts.filter((r) => r.stuck);
    const failed = BACKENDS.filter((backend) => ctx.backends[backend]?.ok !== true);
    const failures = failed.map((backend) => `${conditionOfBackend(backend)}: ${ctx.backends[backend]?.message ?? "not checked"}`);
    const jwtProblem = ctx.missing.jwt;

    if (notDone.length > 0) {
      ctx.setCondition({ type: "Progressing", status: "True", reason: "RollingOut", message: notDone.map((r) => `${r.service}: ${r.message}`).join("; ") });
    } else {
      ctx.setCondition({ type: "Progressing", status: "False", reason: "RolloutComplete", message: "every Deployment runs its wanted pods" });
    }
    if (failed.length > 0 || stuck.length > 0 || jwtProblem !== undefined) {
      const reasons = [...failures, ...stuck.map((r) => `${r.service}: ${r.message}`), ...(jwtProblem === undefined ? [] : [`jwtSecret: ${jwtProblem}`])];
      const reason = failed.length > 0 ? "BackendUnavailable" : stuck.length > 0 ? "RolloutStuck" : "SecretUnavailable";
      ctx.setCondition({ type: "Degraded", status: "True", reason, message: reasons.join("; ") });
    } else {
      ctx.setCondition({ type: "Degraded", status: "False", reason: "AsExpected", message: "no problem found" });
    }
    if (failed.length > 0) {
      ctx.setCondition({ type: "Ready", status: "False", reason: "BackendsNotReady", message: `waiting for ${failed.map(conditionOfBackend).join(", ")}` });
    } else if (jwtProblem !== undefined) {
      ctx.setCondition({ type: "Ready", status: "False", reason: "SecretUnavailable", message: `jwtSecret: ${jwtProblem}` });
    } else if (notDone.length > 0) {
      ctx.setCondition({ type: "Ready", status: "False", reason: "ServicesNotReady", message: notDone.map((r) => `${r.service}: ${r.message}`).join("; ") });
    } else {
      ctx.setCondition({ type: "Ready", status: "True", reason: "AllServicesAvailable", message: "every service is available and every back end is set up" });
    }

    await writeStatusIfChanged(this.deps.kube, ctx.cluster, { ...ctx.status, observedGeneration: ctx.generation, clusterName: view.clusterName });
    if (failed.length > 0) throw new DependencyError(failures.join("; "));
    return done({ requeueAfterMs: notDone.length > 0 ? REQUEUE_WHILE_PROGRESSING_MS : this.deps.resyncMs });
  }
}
