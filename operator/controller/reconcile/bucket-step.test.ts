import { describe, expect, it } from "vitest";
import { stepHarness } from "../../testing/step-harness.js";
import { BucketStep } from "./bucket-step.js";

const RESYNC_MS = 60_000;

function setup() {
  const harness = stepHarness();
  const step = new BucketStep({ external: harness.external, events: harness.events, resyncMs: RESYNC_MS });
  return { ...harness, step };
}

describe("BucketStep", () => {
  it("creates a missing bucket, and says so only the time it did", async () => {
    const { step, context, external, events, clock } = setup();
    const ctx = context();
    await step.run(ctx);
    expect(external.buckets.has("assets")).toBe(true);
    expect(ctx.backends.storage).toMatchObject({ ok: true, reason: "BucketReady", message: "bucket assets exists" });
    clock.advance(RESYNC_MS);
    await step.run(context());
    expect(external.calls).toEqual(["ensureBucket", "ensureBucket"]);
    expect(events.reasons()).toEqual(["BucketCreated"]);
  });

  it("reports an unreachable object store as StorageReady=False", async () => {
    const { step, context, external, events } = setup();
    external.failing.set("storage", "AccessDenied");
    const ctx = context();
    await step.run(ctx);
    expect(ctx.conditions().find((c) => c.type === "StorageReady")).toMatchObject({ status: "False", reason: "StorageUnavailable", message: "AccessDenied" });
    expect(events.reasons()).toEqual(["StorageUnavailable"]);
  });
});
