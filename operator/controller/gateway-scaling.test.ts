import { describe, expect, it } from "vitest";
import { FakeConnectionSource } from "../testing/fake-external-state.js";
import { defaultedSpec } from "../testing/fixtures.js";
import { stepHarness } from "../testing/step-harness.js";
import { MemoryEventRecorder } from "./events.js";
import { GatewayScaling } from "./gateway-scaling.js";

describe("GatewayScaling", () => {
  it("scales gateways through the scale subresource from the registry's counts", async () => {
    const autoscaling = { enabled: true, minReplicas: 2, maxReplicas: 6, targetConnectionsPerPod: 100, scaleDownStabilizationSeconds: 0 };
    const { kube, logger, stored: cluster } = stepHarness(defaultedSpec({ gateway: { ...defaultedSpec().gateway, autoscaling } }));
    const connections = new FakeConnectionSource();
    const events = new MemoryEventRecorder();
    const scaling = new GatewayScaling({ kube, connections, events, logger });
    connections.perGateway = new Map([
      ["demo-gateway-a", 250],
      ["demo-gateway-b", 130],
    ]);
    const first = await scaling.poll(cluster());
    expect(first).toMatchObject({ connections: 380, scaled: true, decision: { desired: 4, reason: "ScaleUp" } });
    expect(cluster().spec.gateway.replicas).toBe(4);
    expect(events.events.at(-1)?.message).toBe("gateways 2 -> 4: 380 connections, target 100 per pod (ScaleUp)");
    expect(scaling.snapshot("uid-demo")).toMatchObject({ connections: 380, desiredReplicas: 4 });
    const second = await scaling.poll(cluster());
    expect(second).toMatchObject({ scaled: false, changed: false });
    connections.failure = "ECONNREFUSED";
    expect(await scaling.poll(cluster())).toMatchObject({ scaled: false });
    expect(events.reasons().at(-1)).toBe("ConnectionsUnavailable");
    expect(cluster().spec.gateway.replicas).toBe(4);
  });
});
