import { describe, expect, it } from "vitest";
import { defaultedSpec } from "../../testing/fixtures.js";
import { clusterRef, stepHarness } from "../../testing/step-harness.js";
import { KafkaTopicsStep } from "./kafka-topics-step.js";
import { ReconcileContext } from "./step.js";

const RESYNC_MS = 60_000;

function setup(spec = defaultedSpec()) {
  const harness = stepHarness(spec);
  const step = new KafkaTopicsStep({ external: harness.external, events: harness.events, resyncMs: RESYNC_MS });
  return { ...harness, step };
}

describe("KafkaTopicsStep", () => {
  it("creates the base topics, the 16 shared group topics of the default layout included, and reports them in KafkaReady", async () => {
    const { step, context, external, events } = setup();
    const ctx = context();
    await step.run(ctx);
    expect(external.topics.size).toBe(21);
    expect([...external.topics.keys()].filter((name) => name.startsWith("parley.demo.group-shard."))).toHaveLength(16);
    expect(ctx.backends.kafka).toMatchObject({ ok: true, reason: "TopicsReady", message: "21 base topics and 0 group topics under parley.demo." });
    expect(ctx.conditions().find((c) => c.type === "KafkaReady")).toMatchObject({ status: "True", observedGeneration: 1 });
    expect(events.reasons()).toEqual(["TopicsCreated"]);
  });

  it("creates no shared group topic when groups have a topic each (kafka.groupTopics.shared 0)", async () => {
    const spec = defaultedSpec();
    const { step, context, external } = setup({ ...spec, kafka: { ...spec.kafka, groupTopics: { ...spec.kafka.groupTopics, shared: 0 } } });
    const ctx = context();
    await step.run(ctx);
    expect(external.topics.size).toBe(5);
    expect(ctx.backends.kafka).toMatchObject({ message: "5 base topics and 0 group topics under parley.demo." });
  });

  it("reports a broker failure as KafkaReady=False and lets the reconcile go on", async () => {
    const { step, context, external, events } = setup();
    external.failing.set("kafka", "broker down");
    const ctx = context();
    await expect(step.run(ctx)).resolves.toEqual({ outcome: "continue" });
    expect(ctx.conditions().find((c) => c.type === "KafkaReady")).toMatchObject({ status: "False", reason: "KafkaUnavailable", message: "broker down" });
    expect(events.reasons()).toEqual(["KafkaUnavailable"]);
    // The same failure already in the stored status is not recorded again.
    const again = new ReconcileContext({ ...ctx.cluster, status: { conditions: ctx.conditions() } }, ctx.now);
    await step.run(again);
    expect(events.reasons()).toEqual(["KafkaUnavailable"]);
  });

  it("checks the brokers again only when its inputs change or the resync interval has passed", async () => {
    const { step, context, external, clock, kube } = setup();
    const calls = () => external.calls.filter((c) => c === "ensureKafka").length;
    await step.run(context());
    clock.advance(RESYNC_MS - 1);
    await step.run(context());
    expect(calls()).toBe(1);
    await kube.mergePatch(clusterRef, { spec: { kafka: { partitions: 12 } } });
    await step.run(context());
    expect(calls()).toBe(2);
    clock.advance(RESYNC_MS);
    await step.run(context());
    expect(calls()).toBe(3);
  });

  it("with deleteWithGroup and no Cassandra login names the missing Secret and does not call the brokers", async () => {
    const { step, context, external } = setup();
    const ctx = context();
    ctx.missing.kafka = "kafka.groupTopics.deleteWithGroup reads the group store: Secret cass not found";
    await step.run(ctx);
    expect(external.calls).toEqual([]);
    expect(ctx.backends.kafka).toMatchObject({ ok: false, reason: "SecretUnavailable" });
  });
});
