import { describe, expect, it } from "vitest";
import { clusterRef, stepHarness } from "../../testing/step-harness.js";
import { CassandraSchemaStep } from "./cassandra-schema-step.js";

function setup(status?: { schemaVersion: number }) {
  const harness = stepHarness(undefined, status);
  const step = new CassandraSchemaStep({ external: harness.external, events: harness.events, resyncMs: 60_000 });
  return { ...harness, step };
}

describe("CassandraSchemaStep", () => {
  it("applies the migrations, says which, and sets status.schemaVersion", async () => {
    const { step, context, events } = setup();
    const ctx = context();
    await step.run(ctx);
    expect(ctx.status.schemaVersion).toBe(3);
    expect(ctx.conditions().find((c) => c.type === "CassandraReady")).toMatchObject({ status: "True", reason: "SchemaCurrent", message: "keyspace parley at schema version 3" });
    expect(events.events.map((e) => e.message)).toEqual(["applied schema migrations 1, 2, 3 to keyspace parley"]);
  });

  it("keeps the stored schemaVersion while Cassandra is down", async () => {
    const { step, context, external } = setup({ schemaVersion: 2 });
    external.failing.set("cassandra", "connect ECONNREFUSED");
    const ctx = context();
    await step.run(ctx);
    expect(ctx.status.schemaVersion).toBe(2);
    expect(ctx.backends.cassandra).toMatchObject({ ok: false, reason: "CassandraUnavailable", message: "connect ECONNREFUSED" });
  });

  it("runs the migrations again when the image changes, since a release may bring new ones", async () => {
    const { step, context, external, kube, events } = setup();
    await step.run(context());
    external.schemaVersion = 4;
    await step.run(context());
    expect(external.keyspaces.get("parley")).toBe(3);
    await kube.mergePatch(clusterRef, { spec: { image: { tag: "0.2.0" } } });
    const ctx = context();
    await step.run(ctx);
    expect(ctx.status.schemaVersion).toBe(4);
    expect(events.events.at(-1)?.message).toBe("applied schema migrations 4 to keyspace parley");
  });

  it("names a missing login Secret without connecting", async () => {
    const { step, context, external } = setup();
    const ctx = context();
    ctx.missing.cassandra = "Secret cass not found";
    await step.run(ctx);
    expect(external.calls).toEqual([]);
    expect(ctx.conditions().find((c) => c.type === "CassandraReady")).toMatchObject({ status: "False", reason: "SecretUnavailable", message: "Secret cass not found" });
  });
});
