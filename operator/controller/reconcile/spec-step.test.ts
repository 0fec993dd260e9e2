import { describe, expect, it } from "vitest";
import { defaultedSpec } from "../../testing/fixtures.js";
import { stepHarness } from "../../testing/step-harness.js";
import { SpecStep } from "./spec-step.js";

const badChat = defaultedSpec({ chat: { replicas: 2, settings: { PARLEY_REQUEST_TIMEOUT_MS: "5" } } });

describe("SpecStep", () => {
  it("lets a spec whose settings the table accepts go on, writing nothing", async () => {
    const { kube, events, context } = stepHarness();
    const writes = kube.writes.length;
    await expect(new SpecStep({ kube, events }).run(context())).resolves.toEqual({ outcome: "continue" });
    expect(kube.writes.length).toBe(writes);
    expect(events.events).toEqual([]);
  });

  it("ends the reconcile on a bad setting with Ready=False InvalidSpec in status, and one Event per distinct problem", async () => {
    const { kube, events, context, stored } = stepHarness(badChat);
    const step = new SpecStep({ kube, events });
    await expect(step.run(context())).resolves.toEqual({ outcome: "done", result: {} });
    const ready = stored().status?.conditions?.find((c) => c.type === "Ready");
    expect(ready).toMatchObject({ status: "False", reason: "InvalidSpec", observedGeneration: 1, message: expect.stringContaining("spec.chat.settings.PARLEY_REQUEST_TIMEOUT_MS") as unknown });
    expect(stored().status?.observedGeneration).toBe(1);
    const writes = kube.writes.length;
    await step.run(context());
    expect(kube.writes.length).toBe(writes);
    expect(events.reasons()).toEqual(["InvalidSpec"]);
  });
});
