import type { ExternalState } from "../../external/external-state.js";
import type { EventRecorder } from "../events.js";
import { BackendCheck } from "./backend-check.js";
import { CONTINUE, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

/** The cluster's Kafka topics: base topics created, group topics kept in line with kafka.groupTopics. */
export class KafkaTopicsStep implements ReconcileStep {
  readonly name = "kafka-topics";
  private readonly check: BackendCheck;

  constructor(private readonly deps: { external: ExternalState; events: EventRecorder; resyncMs: number }) {
    this.check = new BackendCheck({ backend: "kafka", events: deps.events, resyncMs: deps.resyncMs });
  }

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const { view, cluster } = ctx;
    const { kafka, cassandra } = view.spec;
    // deleteWithGroup reads the group store, so the Cassandra settings count as input too;
    // the credentials do not (the brokers need none).
    const inputs = { input: { kafka, prefix: view.topicPrefix, deleteWithGroup: kafka.groupTopics.deleteWithGroup ? cassandra : null }, credentials: {} };
    await this.check.run(ctx, inputs, async () => {
      const { events } = this.deps;
      const outcome = await this.deps.external.ensureKafka(view, ctx.credentials);
      if (outcome.created.length > 0) events.record(cluster, "Normal", "TopicsCreated", `created topics ${outcome.created.join(", ")}`);
      if (outcome.groupTopicsUpdated.length > 0) {
        events.record(cluster, "Normal", "GroupTopicsUpdated", `brought ${outcome.groupTopicsUpdated.length} group topics in line with kafka.groupTopics`);
      }
      if (outcome.groupTopicsDeleted.length > 0) {
        events.record(cluster, "Normal", "GroupTopicsDeleted", `deleted ${outcome.groupTopicsDeleted.length} topics of deleted groups`);
      }
      const groupTopics = outcome.groupTopics - outcome.groupTopicsDeleted.length;
      return { ok: true, reason: "TopicsReady", message: `${outcome.baseTopics.length} base topics and ${groupTopics} group topics under ${view.topicPrefix}` };
    });
    return CONTINUE;
  }

  forget(uid: string): void {
    this.check.forget(uid);
  }
}
