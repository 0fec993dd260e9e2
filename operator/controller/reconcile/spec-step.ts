import { SERVICES } from "../../api/v1alpha1/messagingcluster.js";
import { settingProblems } from "../../api/v1alpha1/settings.js";
import type { KubeApi } from "../../kube/kube-api.js";
import { conditionOf } from "../conditions.js";
import type { EventRecorder } from "../events.js";
import { CONTINUE, done, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";
import { writeStatusIfChanged } from "./write-status.js";

/**
 * Checks what the API server's schema cannot: each setting's value against the settings
 * table. A bad value ends the reconcile before anything outside the cluster is touched
 * or any pod rolls; Ready and Degraded name the setting.
 */
export class SpecStep implements ReconcileStep {
  readonly name = "spec";

  constructor(private readonly deps: { kube: KubeApi; events: EventRecorder }) {}

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const { cluster } = ctx;
    const problems = SERVICES.flatMap((service) => settingProblems(cluster.spec[service].settings ?? {}, `spec.${service}.settings`));
    if (problems.length === 0) return CONTINUE;
    const message = problems.join("; ");
    // One Event per distinct problem, not one per retry.
    if (conditionOf(cluster.status, "Ready")?.message !== message) this.deps.events.record(cluster, "Warning", "InvalidSpec", message);
    ctx.setCondition({ type: "Ready", status: "False", reason: "InvalidSpec", message });
    ctx.setCondition({ type: "Degraded", status: "True", reason: "InvalidSpec", message });
    await writeStatusIfChanged(this.deps.kube, cluster, { ...ctx.status, observedGeneration: ctx.generation });
    return done();
  }
}
