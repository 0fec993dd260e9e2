import { describe, expect, it } from "vitest";
import { rolloutOf } from "./rollout.js";

describe("rolloutOf", () => {
  it("is not done until the Deployment controller has seen the change", () => {
    const deployment = { metadata: { generation: 2 }, status: { observedGeneration: 1, replicas: 2, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2 } };
    expect(rolloutOf(deployment, 2)).toEqual({ ready: 2, done: false, stuck: false, message: "change not yet observed by the Deployment controller" });
  });

  it("is done only with every wanted pod up to date, ready and available, and none left over", () => {
    const status = { observedGeneration: 1, replicas: 3, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2 };
    expect(rolloutOf({ metadata: { generation: 1 }, status }, 2).done).toBe(false);
    expect(rolloutOf({ metadata: { generation: 1 }, status: { ...status, replicas: 2 } }, 2).done).toBe(true);
  });
});
