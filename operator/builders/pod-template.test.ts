import { describe, expect, it } from "vitest";
import type { MessagingClusterSpec } from "../api/v1alpha1/messagingcluster.js";
import { defaultedSpec, messagingCluster } from "../testing/fixtures.js";
import { selectorLabels, viewOf } from "./cluster.js";
import { buildDeployment, buildServiceAccount } from "./objects.js";

function podSpecOf(spec: MessagingClusterSpec, service: "gateway" | "chat" | "assets") {
  const template = buildDeployment(viewOf(messagingCluster("demo", "team", spec)), service).spec?.template;
  if (template?.spec === undefined) throw new Error("no pod template");
  return { metadata: template.metadata ?? {}, spec: template.spec };
}

const view = viewOf(messagingCluster());

describe("pod templates", () => {
  it("spread gateways by node and by zone as a preference when nothing is set", () => {
    const { spec } = podSpecOf(defaultedSpec(), "gateway");
    expect(spec.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selectorLabels(view, "gateway") } },
      { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selectorLabels(view, "gateway") } },
    ]);
    expect(spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey).toBe("kubernetes.io/hostname");
    const chat = podSpecOf(defaultedSpec(), "chat").spec;
    expect(chat.topologySpreadConstraints).toBeUndefined();
    expect(chat.nodeSelector).toBeUndefined();
    expect(chat.tolerations).toBeUndefined();
    expect(chat.priorityClassName).toBeUndefined();
  });

  it("put spec.template's placement on every service's pods", () => {
    const spec = defaultedSpec({
      template: {
        nodeSelector: { pool: "messaging" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "messaging", effect: "NoSchedule" }],
        priorityClassName: "parley-high",
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "arch", operator: "In", values: ["arm64"] }] }] } } },
      },
    });
    for (const service of ["gateway", "chat", "assets"] as const) {
      const pod = podSpecOf(spec, service).spec;
      expect(pod.nodeSelector).toEqual({ pool: "messaging" });
      expect(pod.tolerations).toEqual([{ key: "dedicated", operator: "Equal", value: "messaging", effect: "NoSchedule" }]);
      expect(pod.priorityClassName).toBe("parley-high");
      expect(pod.affinity).toEqual({
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "arch", operator: "In", values: ["arm64"] }] }] } },
      });
    }
  });

  it("merge a service's template over spec.template: maps by key, tolerations added, the rest replaced", () => {
    const spec = defaultedSpec({
      template: {
        nodeSelector: { pool: "messaging", disk: "ssd" },
        tolerations: [{ key: "dedicated", operator: "Exists" }],
        priorityClassName: "parley",
        labels: { team: "chat", cost: "a" },
      },
      gateway: {
        ...defaultedSpec().gateway,
        template: {
          nodeSelector: { pool: "edge" },
          tolerations: [{ key: "edge", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 }],
          priorityClassName: "parley-edge",
          labels: { cost: "b" },
          topologySpreadConstraints: [{ maxSkew: 2, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule" }],
        },
      },
    });
    const { metadata, spec: pod } = podSpecOf(spec, "gateway");
    expect(pod.nodeSelector).toEqual({ pool: "edge", disk: "ssd" });
    expect(pod.tolerations).toEqual([
      { key: "dedicated", operator: "Exists" },
      { key: "edge", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 },
    ]);
    expect(pod.priorityClassName).toBe("parley-edge");
    expect(metadata.labels).toMatchObject({ team: "chat", cost: "b" });
    // A constraint without a selector counts the service's own pods.
    expect(pod.topologySpreadConstraints).toEqual([
      { maxSkew: 2, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: selectorLabels(view, "gateway") } },
    ]);
    expect(podSpecOf(spec, "chat").spec.nodeSelector).toEqual({ pool: "messaging", disk: "ssd" });
  });

  it("never let extra labels or annotations replace Parley's own", () => {
    const spec = defaultedSpec({
      template: {
        labels: { "app.kubernetes.io/component": "mine", "team": "chat" },
        annotations: { "messaging.parley.io/config-hash": "0", "sidecar.istio.io/inject": "false" },
      },
    });
    const { metadata } = podSpecOf(spec, "chat");
    expect(metadata.labels).toMatchObject({ "app.kubernetes.io/component": "chat", "team": "chat" });
    expect(metadata.annotations?.["messaging.parley.io/config-hash"]).toMatch(/^[0-9a-f]{16}$/);
    expect(metadata.annotations?.["sidecar.istio.io/inject"]).toBe("false");
  });

  it("give services without resources of their own spec.template's resources", () => {
    const spec = defaultedSpec({
      template: { resources: { requests: { cpu: "100m", memory: 128 } } },
      assets: { replicas: 1, resources: { limits: { memory: "1Gi" } } },
    });
    expect(podSpecOf(spec, "chat").spec.containers[0]?.resources).toEqual({ requests: { cpu: "100m", memory: "128" } });
    expect(podSpecOf(spec, "assets").spec.containers[0]?.resources).toEqual({ limits: { memory: "1Gi" } });
  });

  it("annotate the ServiceAccount for workload identity", () => {
    const annotated = viewOf(messagingCluster("demo", "team", defaultedSpec({ template: { serviceAccount: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/parley" } } } })));
    expect(buildServiceAccount(annotated).metadata.annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/parley" });
    expect(buildServiceAccount(view).metadata.annotations).toBeUndefined();
  });
});
