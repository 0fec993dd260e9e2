/**
 * Every Kubernetes permission the operator uses, with the reason. The chart's ClusterRole
 * and leader-election Role are generated from these lists (operator/tools/generate-crd.ts),
 * a test fails when the chart is stale, and the RBAC integration test runs a reconcile as
 * the chart's ServiceAccount, so a call missing here fails there.
 */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** Why the operator needs it (written into the YAML as a comment). */
  why: string;
}

/** Cluster-wide: the operator reconciles MessagingClusters in every namespace (or one, with --namespace). */
export const CLUSTER_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ["messaging.parley.io"],
    resources: ["messagingclusters"],
    verbs: ["get", "list", "watch", "patch"],
    why: "watch MessagingClusters; add and remove the cleanup finalizer",
  },
  {
    apiGroups: ["messaging.parley.io"],
    resources: ["messagingclusters/status"],
    verbs: ["get", "patch"],
    why: "write status (conditions, replicas, connections, schema version)",
  },
  {
    apiGroups: ["messaging.parley.io"],
    resources: ["messagingclusters/scale"],
    verbs: ["get", "patch"],
    why: "the gateway autoscaler writes spec.gateway.replicas through the scale subresource",
  },
  {
    apiGroups: ["messaging.parley.io"],
    resources: ["messagingclusters/finalizers"],
    verbs: ["update"],
    why: "set blockOwnerDeletion on owner references of the objects it creates",
  },
  {
    apiGroups: ["apps"],
    resources: ["deployments"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "one Deployment per service: server-side apply, watch their status, prune owned ones no longer wanted",
  },
  {
    apiGroups: [""],
    resources: ["services", "configmaps", "serviceaccounts"],
    verbs: ["get", "list", "create", "patch", "delete"],
    why: "the Services, the settings ConfigMap and the pods' ServiceAccount: server-side apply and prune",
  },
  {
    apiGroups: ["policy"],
    resources: ["poddisruptionbudgets"],
    verbs: ["get", "list", "create", "patch", "delete"],
    why: "the gateways' PodDisruptionBudget: server-side apply and prune",
  },
  {
    apiGroups: [""],
    resources: ["secrets"],
    verbs: ["get"],
    why: "read the back-end credentials named by secretKeyRef, to set up Cassandra, S3 and read the Redis registry",
  },
  {
    apiGroups: ["monitoring.coreos.com"],
    resources: ["podmonitors"],
    verbs: ["create", "patch", "delete"],
    why: "spec.monitoring.podMonitor: server-side apply the cluster's PodMonitor (create when missing), delete it when turned off",
  },
  {
    apiGroups: [""],
    resources: ["events"],
    verbs: ["create", "patch"],
    why: "record what it did on the MessagingCluster (kubectl describe)",
  },
];

/** In the operator's own namespace only: the leader-election Lease. */
export const LEADER_ELECTION_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "create", "update"],
    why: "leader election: one operator replica reconciles at a time",
  },
];

/** The rules in the shape of a (Cluster)Role's `rules`. */
export function roleRules(rules: readonly PolicyRule[]): { apiGroups: string[]; resources: string[]; verbs: string[] }[] {
  return rules.map(({ apiGroups, resources, verbs }) => ({ apiGroups, resources, verbs }));
}
