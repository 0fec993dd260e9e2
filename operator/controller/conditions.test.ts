import { describe, expect, it } from "vitest";
import type { MessagingClusterStatus } from "../api/v1alpha1/messagingcluster.js";
import { setCondition, statusChanged } from "./conditions.js";

const t0 = new Date("2026-01-01T00:00:00.000Z");
const t1 = new Date("2026-01-01T00:05:00.000Z");

describe("setCondition", () => {
  it("keeps lastTransitionTime while the status stays, and orders conditions", () => {
    let conditions = setCondition([], { type: "KafkaReady", status: "True", reason: "TopicsReady", message: "a" }, 1, t0);
    conditions = setCondition(conditions, { type: "Ready", status: "False", reason: "ServicesNotReady", message: "b" }, 1, t0);
    conditions = setCondition(conditions, { type: "KafkaReady", status: "True", reason: "TopicsReady", message: "c" }, 2, t1);
    expect(conditions.map((c) => c.type)).toEqual(["Ready", "KafkaReady"]);
    expect(conditions[1]).toEqual({ type: "KafkaReady", status: "True", reason: "TopicsReady", message: "c", observedGeneration: 2, lastTransitionTime: "2026-01-01T00:00:00Z" });
    conditions = setCondition(conditions, { type: "Ready", status: "True", reason: "AllServicesAvailable", message: "d" }, 2, t1);
    expect(conditions[0]?.lastTransitionTime).toBe("2026-01-01T00:05:00Z");
  });
});

describe("statusChanged", () => {
  it("ignores key order and undefined fields, sees real changes", () => {
    const a: MessagingClusterStatus = { observedGeneration: 1, gateway: { replicas: 2, selector: "x" } };
    expect(statusChanged(a, { gateway: { selector: "x", replicas: 2 }, observedGeneration: 1, schemaVersion: undefined })).toBe(false);
    expect(statusChanged(a, { ...a, observedGeneration: 2 })).toBe(true);
    expect(statusChanged(undefined, {})).toBe(false);
  });
});
