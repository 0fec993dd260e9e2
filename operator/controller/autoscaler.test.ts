import { describe, expect, it } from "vitest";
import { GatewayAutoscaler, recommendReplicas } from "./autoscaler.js";

const policy = { minReplicas: 2, maxReplicas: 10, targetConnectionsPerPod: 1000, scaleDownStabilizationSeconds: 300 };

describe("recommendReplicas", () => {
  it("is ceil(total / target) clamped to min and max", () => {
    expect(recommendReplicas(0, policy)).toBe(2);
    expect(recommendReplicas(2500, policy)).toBe(3);
    expect(recommendReplicas(3000, policy)).toBe(3);
    expect(recommendReplicas(3001, policy)).toBe(4);
    expect(recommendReplicas(1_000_000, policy)).toBe(10);
  });
});

describe("GatewayAutoscaler", () => {
  it("scales up at once", () => {
    const autoscaler = new GatewayAutoscaler();
    expect(autoscaler.decide(0, 5500, 2, policy)).toEqual({ desired: 6, recommendation: 6, reason: "ScaleUp" });
  });

  it("scales down only to the highest recommendation within the window, so it does not flap", () => {
    const autoscaler = new GatewayAutoscaler();
    const s = 1000;
    expect(autoscaler.decide(0, 6000, 6, policy).desired).toBe(6);
    // Load drops: the recommendation is 3, but 6 was recommended within the window.
    expect(autoscaler.decide(60 * s, 2500, 6, policy)).toEqual({ desired: 6, recommendation: 3, reason: "ScaleDownStabilized" });
    // A short spike and dip again: still held.
    expect(autoscaler.decide(120 * s, 4500, 6, policy).desired).toBe(6);
    expect(autoscaler.decide(180 * s, 2500, 6, policy).desired).toBe(6);
    // 300 s after the 6: the highest left in the window is the spike's 5.
    expect(autoscaler.decide(301 * s, 2500, 6, policy)).toEqual({ desired: 5, recommendation: 3, reason: "ScaleDownStabilized" });
    // Once the spike leaves the window: down to 3.
    expect(autoscaler.decide(421 * s, 2500, 5, policy)).toEqual({ desired: 3, recommendation: 3, reason: "ScaleDown" });
  });

  it("waits a full window after it starts before scaling down (it treats the current count as recommended)", () => {
    const autoscaler = new GatewayAutoscaler();
    expect(autoscaler.decide(0, 0, 8, policy).desired).toBe(8);
    expect(autoscaler.decide(299_000, 0, 8, policy).desired).toBe(8);
    expect(autoscaler.decide(300_001, 0, 8, policy).desired).toBe(2);
  });

  it("with no window follows the recommendation both ways", () => {
    const autoscaler = new GatewayAutoscaler();
    const immediate = { ...policy, scaleDownStabilizationSeconds: 0 };
    expect(autoscaler.decide(0, 9000, 2, immediate).desired).toBe(9);
    expect(autoscaler.decide(1, 1000, 9, immediate).desired).toBe(2);
  });

  it("brings a count outside min..max back inside", () => {
    const autoscaler = new GatewayAutoscaler();
    const tight = { ...policy, scaleDownStabilizationSeconds: 0 };
    expect(autoscaler.decide(0, 0, 1, tight).desired).toBe(2);
    expect(autoscaler.decide(1, 50_000, 30, tight).desired).toBe(10);
  });
});
