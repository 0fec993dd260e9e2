import { describe, expect, it } from "vitest";
import { stepHarness } from "../../testing/step-harness.js";
import { DependencyError } from "./errors.js";
import type { Rollout } from "./rollout.js";
import { StatusStep } from "./status-step.js";
import type { ReconcileContext } from "./step.js";

const RESYNC_MS = 600_000;

function found(ctx: ReconcileContext, rollout: Partial<Rollout> = {}): ReconcileContext {
  for (const backend of ["kafka", "cassandra", "storage"] as const) ctx.backends[backend] = { ok: true, reason: "Up", message: `${backend} up` };
  ctx.rollouts = (["gateway", "chat", "groups", "presence", "assets"] as const).map((service) => ({ service, ready: 2, done: true, stuck: false, message: "2/2 ready", ...rollout }));
  return ctx;
}

function setup() {
  const harness = stepHarness();
  return { ...harness, step: new StatusStep({ kube: harness.kube, resyncMs: RESYNC_MS }) };
}

const condition = (ctx: ReconcileContext, type: string) => ctx.conditions().find((c) => c.type === type);

describe("StatusStep", () => {
  it("is Ready with observedGeneration when every back end is set up and every rollout done, and checks again after the resync interval", async () => {
    const { step, context, stored } = setup();
    await expect(step.run(found(context()))).resolves.toEqual({ outcome: "done", result: { requeueAfterMs: RESYNC_MS } });
    expect(stored().status).toMatchObject({ observedGeneration: 1, clusterName: "demo" });
    expect(stored().status?.conditions?.map((c) => [c.type, c.status, c.observedGeneration])).toEqual([
      ["Ready", "True", 1],
      ["Progressing", "False", 1],
      ["Degraded", "False", 1],
    ]);
  });

  it("writes nothing when the status it computes is the stored one", async () => {
    const { step, context, kube, clock } = setup();
    await step.run(found(context()));
    const writes = kube.writes.length;
    clock.advance(60_000);
    await step.run(found(context()));
    expect(kube.writes.length).toBe(writes);
  });

  it("asks for a sooner look while pods roll", async () => {
    const { step, context } = setup();
    const ctx = found(context(), { done: false, message: "1/2 ready" });
    await expect(step.run(ctx)).resolves.toEqual({ outcome: "done", result: { requeueAfterMs: 30_000 } });
    expect(condition(ctx, "Ready")).toMatchObject({ status: "False", reason: "ServicesNotReady" });
    expect(condition(ctx, "Progressing")).toMatchObject({ status: "True", reason: "RollingOut" });
  });

  it("writes why a back end failed, then fails the reconcile so the queue backs off", async () => {
    const { step, context, stored } = setup();
    const ctx = found(context());
    ctx.backends.kafka = { ok: false, reason: "KafkaUnavailable", message: "broker down" };
    await expect(step.run(ctx)).rejects.toEqual(new DependencyError("KafkaReady: broker down"));
    const degraded = stored().status?.conditions?.find((c) => c.type === "Degraded");
    expect(degraded).toMatchObject({ status: "True", reason: "BackendUnavailable", message: "KafkaReady: broker down" });
    expect(stored().status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ reason: "BackendsNotReady", message: "waiting for KafkaReady" });
  });

  it("reports a stuck rollout and a short JWT secret in Degraded", async () => {
    const { step, context } = setup();
    const stuck = found(context(), { done: false, stuck: true, message: "rollout exceeded its progress deadline" });
    await step.run(stuck);
    expect(condition(stuck, "Degraded")).toMatchObject({ status: "True", reason: "RolloutStuck" });
    const jwt = found(context());
    jwt.missing.jwt = "Secret creds not found";
    await step.run(jwt);
    expect(condition(jwt, "Degraded")).toMatchObject({ status: "True", reason: "SecretUnavailable", message: "jwtSecret: Secret creds not found" });
    expect(condition(jwt, "Ready")).toMatchObject({ status: "False", reason: "SecretUnavailable" });
  });
});
