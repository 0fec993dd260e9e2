import type { ClusterSecrets } from "./cluster-secrets.js";
import { CONTINUE, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

/**
 * Reads the Secrets the spec names. A missing one does not stop the reconcile: the
 * back end that needs it reports it in its own condition, the JWT secret in Degraded.
 */
export class SecretsStep implements ReconcileStep {
  readonly name = "secrets";

  constructor(private readonly secrets: ClusterSecrets) {}

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const { credentials, missing } = await this.secrets.read(ctx.view);
    ctx.credentials = credentials;
    ctx.missing = missing;
    return CONTINUE;
  }

  forget(uid: string): void {
    this.secrets.forget(uid);
  }
}
