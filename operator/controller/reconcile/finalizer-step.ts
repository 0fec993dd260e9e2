import { FINALIZER, type MessagingCluster } from "../../api/v1alpha1/messagingcluster.js";
import type { ClusterView } from "../../builders/cluster.js";
import type { ExternalState } from "../../external/external-state.js";
import { RESOURCES, type KubeApi } from "../../kube/kube-api.js";
import type { EventRecorder } from "../events.js";
import type { ClusterSecrets } from "./cluster-secrets.js";
import { messageOf } from "./errors.js";
import { CONTINUE, done, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

export interface FinalizerStepDeps {
  kube: KubeApi;
  external: ExternalState;
  events: EventRecorder;
  secrets: ClusterSecrets;
}

/**
 * The finalizer: added to a live cluster before anything is set up for it; on deletion,
 * the back ends are cleaned up as reclaimPolicy says, and only then is it removed. A
 * cluster being deleted runs no other step.
 */
export class FinalizerStep implements ReconcileStep {
  readonly name = "finalizer";

  constructor(private readonly deps: FinalizerStepDeps) {}

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const { cluster, view } = ctx;
    if (cluster.metadata.deletionTimestamp !== undefined) {
      const index = (cluster.metadata.finalizers ?? []).indexOf(FINALIZER);
      if (index === -1) return done();
      await this.reclaim(cluster, view);
      await this.deps.kube.jsonPatch(clusterRef(view), [
        { op: "test", path: `/metadata/finalizers/${index}`, value: FINALIZER },
        { op: "remove", path: `/metadata/finalizers/${index}` },
      ]);
      return done({}, true);
    }
    if (!(cluster.metadata.finalizers ?? []).includes(FINALIZER)) {
      // The test on resourceVersion keeps a stale read from overwriting someone else's finalizers.
      const updated = await this.deps.kube.jsonPatch<MessagingCluster>(clusterRef(view), [
        { op: "test", path: "/metadata/resourceVersion", value: cluster.metadata.resourceVersion },
        cluster.metadata.finalizers === undefined
          ? { op: "add", path: "/metadata/finalizers", value: [FINALIZER] }
          : { op: "add", path: "/metadata/finalizers/-", value: FINALIZER },
      ]);
      cluster.metadata.resourceVersion = updated.metadata.resourceVersion;
      cluster.metadata.finalizers = updated.metadata.finalizers;
    }
    return CONTINUE;
  }

  private async reclaim(cluster: MessagingCluster, view: ClusterView): Promise<void> {
    const { external, events } = this.deps;
    if (view.spec.reclaimPolicy !== "Delete") {
      events.record(
        cluster,
        "Normal",
        "DataRetained",
        `reclaimPolicy Retain: kept topics under ${view.topicPrefix}, keyspace ${view.spec.cassandra.keyspace} and bucket ${view.spec.objectStorage.bucket}`,
      );
      return;
    }
    const known = await this.deps.secrets.known(view);
    // Namespace deletion removes the Secrets too, maybe before this runs: what needs a
    // credential nobody can read any more is left (and said so) rather than blocking
    // the deletion forever.
    const needsCassandraLogin = view.spec.cassandra.username !== undefined;
    const cassandraUsable = !needsCassandraLogin || (known.cassandraUsername !== undefined && known.cassandraPassword !== undefined);
    const s3Usable = view.spec.objectStorage.accessKey === undefined || (known.s3AccessKey !== undefined && known.s3SecretKey !== undefined);
    try {
      const topics = await external.deleteTopics(view);
      events.record(cluster, "Normal", "TopicsDeleted", `deleted ${topics.length} topics under ${view.topicPrefix}`);
      if (!cassandraUsable) {
        events.record(cluster, "Warning", "KeyspaceKept", `kept keyspace ${view.spec.cassandra.keyspace}: its credentials Secret is gone`);
      } else if (await external.dropKeyspace(view, known)) {
        events.record(cluster, "Normal", "KeyspaceDropped", `dropped keyspace ${view.spec.cassandra.keyspace}`);
      }
      if (!s3Usable) {
        events.record(cluster, "Warning", "BucketKept", `kept bucket ${view.spec.objectStorage.bucket}: its credentials Secret is gone`);
      } else if (await external.removeBucket(view, known)) {
        events.record(cluster, "Normal", "BucketRemoved", `removed bucket ${view.spec.objectStorage.bucket} and its objects`);
      }
    } catch (error) {
      events.record(cluster, "Warning", "CleanupFailed", `reclaimPolicy Delete: ${messageOf(error)} (retrying)`);
      throw error;
    }
  }
}

function clusterRef(view: ClusterView) {
  return { ...RESOURCES.messagingClusters, namespace: view.namespace, name: view.name };
}
