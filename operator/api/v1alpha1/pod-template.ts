import { arr, int, map, obj, str, type SchemaNode } from "./openapi.js";

/**
 * Where and how the pods the operator makes are scheduled, and what they carry besides
 * Parley's own labels: `spec.template` for every service's pods, `spec.<service>.template`
 * for one service's (merged over the former; see docs/operator.md "Pod templates").
 *
 * affinity and the label selectors inside topology spread constraints keep the Pod API's
 * own shape, which is large and versioned with Kubernetes; the CRD keeps them as given
 * (preserve-unknown-fields) and the API server checks them when the operator applies the
 * Deployment, so a mistake shows in the cluster's Degraded condition.
 */

// Keys are checked by the API server when the operator applies the object (a CEL rule per
// key would exceed the CRD's validation cost budget for maps of unbounded keys).
function stringMap(description: string, maxProperties: number) {
  return map(description, str("A value.", { maxLength: 4096 }), { maxProperties });
}

const toleration = obj(
  "A toleration, as in a Pod's spec.tolerations.",
  {
    key: str("Taint key the toleration matches; empty with operator Exists matches every taint.", { maxLength: 316 }),
    operator: str("Exists or Equal (the default).", { enum: ["Exists", "Equal"] }),
    value: str("Taint value to match with operator Equal.", { maxLength: 63 }),
    effect: str("Taint effect to match; empty matches every effect.", { enum: ["NoSchedule", "PreferNoSchedule", "NoExecute"] }),
    tolerationSeconds: int("With effect NoExecute: how long the pod stays bound after the taint appears.", { format: "int64" }),
  },
  { "x-kubernetes-validations": [{ rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value)", message: "a toleration with operator Exists takes no value" }] },
);

const topologySpreadConstraint = obj(
  "A topology spread constraint, as in a Pod's spec.topologySpreadConstraints. Without labelSelector it spreads the service's own pods.",
  {
    maxSkew: int("Most the number of matching pods may differ between two topology domains.", { minimum: 1 }),
    topologyKey: str("Node label that defines the domains, e.g. kubernetes.io/hostname or topology.kubernetes.io/zone.", { minLength: 1, maxLength: 316 }),
    whenUnsatisfiable: str("DoNotSchedule (a hard rule) or ScheduleAnyway (a preference).", { enum: ["DoNotSchedule", "ScheduleAnyway"] }),
    minDomains: int("Fewest eligible domains (with DoNotSchedule).", { minimum: 1 }),
    labelSelector: obj("Pods counted in each domain (a metav1.LabelSelector). Default: the service's pods.", {}, { "x-kubernetes-preserve-unknown-fields": true }),
    matchLabelKeys: arr("Pod label keys whose values narrow the pods counted (e.g. pod-template-hash).", str("A label key.", { maxLength: 316 }), { maxItems: 8 }),
    nodeAffinityPolicy: str("Whether the pod's node affinity limits the domains counted.", { enum: ["Honor", "Ignore"] }),
    nodeTaintsPolicy: str("Whether node taints limit the domains counted.", { enum: ["Honor", "Ignore"] }),
  },
  { required: ["maxSkew", "topologyKey", "whenUnsatisfiable"] },
);

/** The fields a template has both for all services and for one. */
export const podTemplateFields = {
  labels: stringMap("Extra labels of the pods. Parley's app.kubernetes.io/* labels win over these.", 32),
  annotations: stringMap("Extra annotations of the pods. The operator's own (config hash, scrape hints) win over these.", 32),
  nodeSelector: map("Node labels a pod's node must have (a Pod's spec.nodeSelector).", str("The label's value.", { maxLength: 63 }), { maxProperties: 16 }),
  tolerations: arr("Taints the pods tolerate (a Pod's spec.tolerations).", toleration, { maxItems: 32 }),
  affinity: obj(
    "Node and pod affinity, as a Pod's spec.affinity. Replaces the operator's default (a preference for one pod of a service per node).",
    {},
    { "x-kubernetes-preserve-unknown-fields": true },
  ),
  topologySpreadConstraints: arr("How the pods spread across nodes and zones. Replaces the operator's default for gateways (a soft spread by node and by zone).", topologySpreadConstraint, {
    maxItems: 8,
  }),
  priorityClassName: str("PriorityClass of the pods.", { minLength: 1, maxLength: 253, pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" }),
} as const;

const serviceAccountTemplate = obj("The ServiceAccount every Parley pod runs as (one per MessagingCluster).", {
  annotations: stringMap(
    "Extra annotations of the ServiceAccount, e.g. eks.amazonaws.com/role-arn for IAM roles for service accounts, which lets the pods reach S3 without static keys.",
    32,
  ),
});

/** One service's template: the fields above (its resources stay in spec.<service>.resources). */
export const serviceTemplate = obj(
  "Pod settings of this service, merged over spec.template: maps key by key, tolerations added, the rest replaced.",
  podTemplateFields,
);

/** spec.template: the fields above, default resources and the ServiceAccount's annotations. */
export function allServicesTemplate<const R extends SchemaNode>(resources: R) {
  const { labels, annotations, nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName } = podTemplateFields;
  return obj("Pod settings of every service's pods (placement, priority, default resources, extra metadata) and of their ServiceAccount.", {
    labels,
    annotations,
    nodeSelector,
    tolerations,
    affinity,
    topologySpreadConstraints,
    priorityClassName,
    resources,
    serviceAccount: serviceAccountTemplate,
  });
}
