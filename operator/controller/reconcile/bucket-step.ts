import type { ExternalState } from "../../external/external-state.js";
import type { EventRecorder } from "../events.js";
import { BackendCheck } from "./backend-check.js";
import { CONTINUE, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

/** The cluster's object-storage bucket (the assets' blobs). */
export class BucketStep implements ReconcileStep {
  readonly name = "bucket";
  private readonly check: BackendCheck;

  constructor(private readonly deps: { external: ExternalState; events: EventRecorder; resyncMs: number }) {
    this.check = new BackendCheck({ backend: "storage", events: deps.events, resyncMs: deps.resyncMs });
  }

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const { view, cluster } = ctx;
    const { bucket } = view.spec.objectStorage;
    const inputs = { input: { storage: view.spec.objectStorage }, credentials: ctx.credentials };
    await this.check.run(ctx, inputs, async () => {
      const outcome = await this.deps.external.ensureBucket(view, ctx.credentials);
      if (outcome.created) this.deps.events.record(cluster, "Normal", "BucketCreated", `created bucket ${bucket}`);
      return { ok: true, reason: "BucketReady", message: `bucket ${bucket} exists` };
    });
    return CONTINUE;
  }

  forget(uid: string): void {
    this.check.forget(uid);
  }
}
