import type { MessagingCluster, MessagingClusterStatus } from "../../api/v1alpha1/messagingcluster.js";
import { RESOURCES, type KubeApi } from "../../kube/kube-api.js";
import { statusChanged } from "../conditions.js";

/**
 * Writes status through the status subresource, only when it differs from the stored one:
 * a reconcile with nothing to do then writes nothing, and its own write does not wake
 * the watches of everyone else.
 */
export async function writeStatusIfChanged(kube: KubeApi, cluster: MessagingCluster, status: MessagingClusterStatus): Promise<boolean> {
  if (!statusChanged(cluster.status, status)) return false;
  await kube.mergePatch(
    { ...RESOURCES.messagingClusters, namespace: cluster.metadata.namespace, name: cluster.metadata.name, subresource: "status" },
    { status },
  );
  return true;
}
