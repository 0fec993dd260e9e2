import { clusterNameOfTopicPrefix, redisKeyPrefix, topicPrefix } from "../../services/events/cluster-names.js";
import type { OwnerReference } from "../kube/types.js";
import { API_VERSION, KIND, type MessagingCluster, type MessagingClusterSpec, type Service } from "../api/v1alpha1/messagingcluster.js";
import { OPERATOR_VERSION } from "../version.js";

export const FIELD_MANAGER = "parley-operator";
export const MANAGED_BY = "parley-operator";
export const CONFIG_HASH_ANNOTATION = "messaging.parley.io/config-hash";
/** The port every parley process serves HTTP (probes, metrics, WebSocket, APIs) on. */
export const HTTP_PORT = 8080;

/**
 * The spec with the image tag filled in: the CRD has no default for it (a default would be
 * written into every object and pin it), so an unpinned cluster runs the operator's version.
 */
export type ResolvedSpec = MessagingClusterSpec & { image: MessagingClusterSpec["image"] & { tag: string } };

/** A MessagingCluster with what the operator derives from it once, used by every builder. */
export interface ClusterView {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  /** PARLEY_CLUSTER: the middle of kafka.topicPrefix, or the resource's name. */
  clusterName: string;
  /** `parley.<clusterName>.`: every topic of the cluster starts with it. */
  topicPrefix: string;
  /** `parley:<clusterName>:`: every Redis key of the cluster starts with it. */
  redisKeyPrefix: string;
  spec: ResolvedSpec;
}

export function viewOf(cluster: MessagingCluster): ClusterView {
  // The CRD's pattern admits only `parley.<name>.`, so the prefix always holds a name.
  const clusterName = clusterNameOfTopicPrefix(cluster.spec.kafka.topicPrefix ?? topicPrefix(cluster.metadata.name)) ?? cluster.metadata.name;
  return {
    name: cluster.metadata.name,
    namespace: cluster.metadata.namespace,
    uid: cluster.metadata.uid,
    generation: cluster.metadata.generation ?? 0,
    clusterName,
    topicPrefix: topicPrefix(clusterName),
    redisKeyPrefix: redisKeyPrefix(clusterName),
    spec: { ...cluster.spec, image: { ...cluster.spec.image, tag: cluster.spec.image.tag ?? OPERATOR_VERSION } },
  };
}

export function ownerReference(view: ClusterView): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: view.name, uid: view.uid, controller: true, blockOwnerDeletion: true };
}

/** Labels that pick a component's pods (never change: a Deployment's selector is immutable). */
export function selectorLabels(view: ClusterView, component: Service): Record<string, string> {
  return {
    "app.kubernetes.io/name": "parley",
    "app.kubernetes.io/instance": view.name,
    "app.kubernetes.io/component": component,
  };
}

/** The selector of a component's pods as a string (status.gateway.selector, kubectl -l). */
export function selectorString(view: ClusterView, component: Service): string {
  return Object.entries(selectorLabels(view, component))
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/** The standard labels of every object the operator makes for a cluster. */
export function standardLabels(view: ClusterView, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "parley",
    "app.kubernetes.io/instance": view.name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": "parley",
    "app.kubernetes.io/managed-by": MANAGED_BY,
    "app.kubernetes.io/version": view.spec.image.tag,
  };
}

/** Selects every object the operator made for one cluster (for pruning). */
export function ownedSelector(view: ClusterView): string {
  return `app.kubernetes.io/managed-by=${MANAGED_BY},app.kubernetes.io/instance=${view.name}`;
}

export const names = {
  deployment: (view: ClusterView, service: Service) => `${view.name}-${service}`,
  service: (view: ClusterView, service: Service) => `${view.name}-${service}`,
  configMap: (view: ClusterView) => `${view.name}-config`,
  serviceAccount: (view: ClusterView) => `${view.name}-parley`,
  gatewayPdb: (view: ClusterView) => `${view.name}-gateway`,
};

/** Gateway pods to run: spec.gateway.replicas, kept within the autoscaler's bounds while it is on. */
export function gatewayReplicas(spec: MessagingClusterSpec): number {
  const { replicas, autoscaling } = spec.gateway;
  if (!autoscaling.enabled) return replicas;
  return Math.min(autoscaling.maxReplicas, Math.max(autoscaling.minReplicas, replicas));
}

export function serviceReplicas(spec: MessagingClusterSpec, service: Service): number {
  return service === "gateway" ? gatewayReplicas(spec) : spec[service].replicas;
}
