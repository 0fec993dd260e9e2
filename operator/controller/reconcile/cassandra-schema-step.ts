import type { ExternalState } from "../../external/external-state.js";
import type { EventRecorder } from "../events.js";
import { BackendCheck } from "./backend-check.js";
import { CONTINUE, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

/** The cluster's Cassandra keyspace and its schema migrations; owns status.schemaVersion. */
export class CassandraSchemaStep implements ReconcileStep {
  readonly name = "cassandra-schema";
  private readonly check: BackendCheck;

  constructor(private readonly deps: { external: ExternalState; events: EventRecorder; resyncMs: number }) {
    this.check = new BackendCheck({ backend: "cassandra", events: deps.events, resyncMs: deps.resyncMs });
  }

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const { view, cluster } = ctx;
    const { keyspace } = view.spec.cassandra;
    // The image tag counts: a new release may bring migrations.
    const inputs = { input: { cassandra: view.spec.cassandra, image: view.spec.image.tag }, credentials: ctx.credentials };
    const result = await this.check.run(ctx, inputs, async () => {
      const outcome = await this.deps.external.ensureCassandra(view, ctx.credentials);
      if (outcome.applied.length > 0) {
        this.deps.events.record(cluster, "Normal", "MigrationsApplied", `applied schema migrations ${outcome.applied.join(", ")} to keyspace ${keyspace}`);
      }
      return { ok: true, reason: "SchemaCurrent", message: `keyspace ${keyspace} at schema version ${outcome.schemaVersion}`, schemaVersion: outcome.schemaVersion };
    });
    if (result.schemaVersion !== undefined) ctx.status.schemaVersion = result.schemaVersion;
    return CONTINUE;
  }

  forget(uid: string): void {
    this.check.forget(uid);
  }
}
