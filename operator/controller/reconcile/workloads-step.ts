import type { Logger } from "../../../services/runtime/logger.js";
import { SERVICES, type MessagingCluster, type Service } from "../../api/v1alpha1/messagingcluster.js";
import { FIELD_MANAGER, names, ownedSelector, serviceReplicas, type ClusterView } from "../../builders/cluster.js";
import { digest } from "../../builders/environment.js";
import { desiredObjects, OWNED_KINDS, type DesiredObject } from "../../builders/objects.js";
import { refOf, RESOURCES, type KubeApi } from "../../kube/kube-api.js";
import type { Deployment } from "../../kube/types.js";
import type { EventRecorder } from "../events.js";
import { rolloutOf } from "./rollout.js";
import { BACKENDS, CONTINUE, type ReconcileContext, type ReconcileStep, type StepResult } from "./step.js";

export interface WorkloadsStepDeps {
  kube: KubeApi;
  events: EventRecorder;
  logger: Logger;
  /** A Deployment from the informer cache, if the caller has one. */
  cachedDeployment?: (namespace: string, name: string) => Deployment | undefined;
}

/**
 * The child objects (Deployments, Services, ConfigMap, ServiceAccount, PDB): every one
 * server-side applied with the operator's one field manager, then what the cluster owns
 * and no longer wants is pruned. Owns status.readyReplicas and the rollouts the status
 * step turns into Progressing.
 */
export class WorkloadsStep implements ReconcileStep {
  readonly name = "workloads";
  /** Digest of the desired object set last pruned against, per cluster. */
  private readonly pruned = new Map<string, string>();
  /** Generation (or resourceVersion) of each applied object after the last apply: an Updated Event only on a real change. */
  private readonly versions = new Map<string, string>();

  constructor(private readonly deps: WorkloadsStepDeps) {}

  async run(ctx: ReconcileContext): Promise<StepResult> {
    const { cluster, view } = ctx;
    // Nothing runs until the back ends have been set up once (the services need the
    // schema and the topics); from then on always, so a back-end outage never takes the
    // workloads away.
    const backendsReady = BACKENDS.every((backend) => ctx.backends[backend]?.ok === true);
    const bootstrapped = cluster.status?.schemaVersion !== undefined;
    if (backendsReady || bootstrapped) {
      const desired = desiredObjects(view);
      for (const object of desired) {
        const applied = await this.apply(cluster, object);
        if (object.kind === "Deployment") ctx.deployments.set(object.metadata.labels["app.kubernetes.io/component"] as Service, applied as Deployment);
      }
      await this.prune(view, desired);
    } else {
      for (const service of SERVICES) ctx.deployments.set(service, await this.deployment(view, service));
    }
    ctx.rollouts = SERVICES.map((service) => ({ service, ...rolloutOf(ctx.deployments.get(service), serviceReplicas(view.spec, service)) }));
    ctx.status.readyReplicas = Object.fromEntries(ctx.rollouts.map((r) => [r.service, r.ready]));
    return CONTINUE;
  }

  forget(uid: string): void {
    this.pruned.delete(uid);
  }

  private async apply(cluster: MessagingCluster, object: DesiredObject): Promise<unknown> {
    const key = `${object.kind}/${object.metadata.namespace}/${object.metadata.name}`;
    const { object: applied, created } = await this.deps.kube.apply<{ metadata: { generation?: number; resourceVersion?: string } }>(refOf(object), object, {
      fieldManager: FIELD_MANAGER,
      force: true,
    });
    const version = String(applied.metadata.generation ?? applied.metadata.resourceVersion ?? "");
    const before = this.versions.get(key);
    this.versions.set(key, version);
    if (created) this.deps.events.record(cluster, "Normal", "Created", `created ${object.kind} ${object.metadata.name}`);
    else if (before !== undefined && before !== version) this.deps.events.record(cluster, "Normal", "Updated", `updated ${object.kind} ${object.metadata.name}`);
    return applied;
  }

  /** Deletes objects this cluster owns that its spec no longer asks for; nothing else. Lists only when the wanted set changed. */
  private async prune(view: ClusterView, desired: DesiredObject[]): Promise<void> {
    const wanted = new Set(desired.map((o) => `${o.kind}/${o.metadata.name}`));
    const setDigest = digest([...wanted].sort());
    if (this.pruned.get(view.uid) === setDigest) return;
    const { kube, logger } = this.deps;
    for (const kind of OWNED_KINDS) {
      const list = await kube.list<{ metadata: { name: string; ownerReferences?: { uid: string }[] } }>(
        { apiVersion: kind.apiVersion, plural: kind.plural, namespace: view.namespace },
        { labelSelector: ownedSelector(view) },
      );
      for (const item of list.items) {
        const owned = (item.metadata.ownerReferences ?? []).some((owner) => owner.uid === view.uid);
        if (!owned || wanted.has(`${kind.kind}/${item.metadata.name}`)) continue;
        await kube.delete({ apiVersion: kind.apiVersion, plural: kind.plural, namespace: view.namespace, name: item.metadata.name });
        logger.info({ kind: kind.kind, name: item.metadata.name }, "pruned an object the cluster no longer needs");
      }
    }
    this.pruned.set(view.uid, setDigest);
  }

  private async deployment(view: ClusterView, service: Service): Promise<Deployment | undefined> {
    const name = names.deployment(view, service);
    return this.deps.cachedDeployment?.(view.namespace, name) ?? (await this.deps.kube.get<Deployment>({ ...RESOURCES.deployments, namespace: view.namespace, name }));
  }
}
