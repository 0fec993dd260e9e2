import type { V1Affinity, V1ResourceRequirements, V1Toleration, V1TopologySpreadConstraint } from "@kubernetes/client-node";
import type { MessagingClusterSpec, Service } from "../api/v1alpha1/messagingcluster.js";
import type { Plain } from "../kube/types.js";
import { selectorLabels, type ClusterView } from "./cluster.js";

type Resources = NonNullable<MessagingClusterSpec["chat"]["resources"]>;
type Template = NonNullable<MessagingClusterSpec["chat"]["template"]>;
type AllTemplate = NonNullable<MessagingClusterSpec["template"]>;

/** What spec.template and spec.<service>.template give one service's pods, merged. */
export interface PodPlacement {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  nodeSelector?: Record<string, string>;
  tolerations?: Plain<V1Toleration>[];
  affinity: Plain<V1Affinity>;
  topologySpreadConstraints?: Plain<V1TopologySpreadConstraint>[];
  priorityClassName?: string;
  resources?: Plain<V1ResourceRequirements>;
}

/** Resources with every quantity as a string, as the API stores them. */
function quantities(resources: Resources): Plain<V1ResourceRequirements> {
  const strings = (map: Record<string, string | number> | undefined) =>
    map === undefined ? undefined : Object.fromEntries(Object.entries(map).map(([key, value]) => [key, String(value)]));
  return { ...(resources.requests ? { requests: strings(resources.requests) } : {}), ...(resources.limits ? { limits: strings(resources.limits) } : {}) };
}

/** The default: at most one pod of a service per node where the scheduler can manage it. */
function defaultAffinity(view: ClusterView, service: Service): Plain<V1Affinity> {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selectorLabels(view, service) } } },
      ],
    },
  };
}

/**
 * The default for gateways: spread evenly by node and by zone, as a preference (a one-node
 * cluster still schedules them all), so that losing a node or a zone drops the fewest
 * connections.
 */
function defaultGatewaySpread(view: ClusterView): Plain<V1TopologySpreadConstraint>[] {
  return ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: "ScheduleAnyway",
    labelSelector: { matchLabels: selectorLabels(view, "gateway") },
  }));
}

function merged(base: Record<string, string> | undefined, over: Record<string, string> | undefined): Record<string, string> | undefined {
  return base === undefined && over === undefined ? undefined : { ...base, ...over };
}

/**
 * One service's pod placement: the service's template over spec.template (maps merged key by
 * key with the service's winning, tolerations of both, anything else the service's if set),
 * then the operator's defaults for what neither sets. Labels and annotations are only the
 * extra ones; the Deployment builder puts Parley's own over them.
 */
export function podPlacement(view: ClusterView, service: Service): PodPlacement {
  const all: AllTemplate | undefined = view.spec.template;
  const own: Template | undefined = view.spec[service].template;
  const tolerations = [...(all?.tolerations ?? []), ...(own?.tolerations ?? [])];
  const spread = own?.topologySpreadConstraints ?? all?.topologySpreadConstraints;
  const resources = view.spec[service].resources ?? all?.resources;
  const nodeSelector = merged(all?.nodeSelector, own?.nodeSelector);
  const priorityClassName = own?.priorityClassName ?? all?.priorityClassName;
  return {
    labels: merged(all?.labels, own?.labels) ?? {},
    annotations: merged(all?.annotations, own?.annotations) ?? {},
    ...(nodeSelector ? { nodeSelector } : {}),
    ...(tolerations.length > 0 ? { tolerations } : {}),
    affinity: own?.affinity ?? all?.affinity ?? defaultAffinity(view, service),
    ...(spread !== undefined
      ? { topologySpreadConstraints: spread.map((constraint) => withSelector(view, service, constraint)) }
      : service === "gateway"
        ? { topologySpreadConstraints: defaultGatewaySpread(view) }
        : {}),
    ...(priorityClassName !== undefined ? { priorityClassName } : {}),
    ...(resources ? { resources: quantities(resources) } : {}),
  };
}

/** A constraint without labelSelector counts the service's own pods (what one nearly always means). */
function withSelector(view: ClusterView, service: Service, constraint: NonNullable<Template["topologySpreadConstraints"]>[number]): Plain<V1TopologySpreadConstraint> {
  const labelSelector = constraint.labelSelector ?? { matchLabels: selectorLabels(view, service) };
  return { ...constraint, labelSelector };
}

/** Extra annotations of the cluster's ServiceAccount (workload identity bindings). */
export function serviceAccountAnnotations(view: ClusterView): Record<string, string> | undefined {
  return view.spec.template?.serviceAccount?.annotations;
}
