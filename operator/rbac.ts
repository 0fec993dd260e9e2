/**
 * Every Kubernetes permission the operator uses, with the reason: only the verbs its calls
 * need (a server-side apply is a patch, and a create when the object is new). The chart's
 * RBAC is generated from these lists (operator/tools/generate-crd.ts), a test fails when
 * the chart is stale, rbac.integration.test.ts compares `kubectl auth can-i --list` of the
 * chart's ServiceAccount with them, and the operator's integration test runs a reconcile as
 * that ServiceAccount, so a call missing here fails there.
 */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** Limited to the leader-election Lease by name (the chart fills the name in). */
  onlyTheLease?: true;
  /** Why the operator needs it (written into the YAML as a comment). */
  why: string;
}

/**
 * In the namespaces the operator reconciles: a ClusterRole when it watches every namespace;
 * a Role in that namespace when it watches one (the chart's watchNamespace), so it can read
 * no Secret elsewhere. Nothing the operator does needs a cluster-scoped resource.
 */
export const RECONCILE_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ["messaging.parley.io"],
    resources: ["messagingclusters"],
    verbs: ["get", "list", "watch", "patch"],
    why: "watch MessagingClusters; add and remove the cleanup finalizer",
  },
  {
    apiGroups: ["messaging.parley.io"],
    resources: ["messagingclusters/status"],
    verbs: ["patch"],
    why: "write status (conditions, replicas, connections, schema version)",
  },
  {
    apiGroups: ["messaging.parley.io"],
    resources: ["messagingclusters/scale"],
    verbs: ["patch"],
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
    why: "one Deployment per service: server-side apply, watch their status (get when the cache has none yet), prune owned ones no longer wanted",
  },
  {
    apiGroups: [""],
    resources: ["services", "configmaps", "serviceaccounts"],
    verbs: ["list", "create", "patch", "delete"],
    why: "the Services, the settings ConfigMap and the pods' ServiceAccount: server-side apply and prune",
  },
  {
    apiGroups: ["policy"],
    resources: ["poddisruptionbudgets"],
    verbs: ["list", "create", "patch", "delete"],
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
    verbs: ["create"],
    why: "record what it did on the MessagingCluster (kubectl describe)",
  },
];

/** In the operator's own namespace only: the leader-election Lease. */
export const LEADER_ELECTION_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["create"],
    why: "leader election: create the Lease the first time (a create cannot be limited to a name)",
  },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "update"],
    onlyTheLease: true,
    why: "leader election: read and renew the operator's own Lease, no other",
  },
];
