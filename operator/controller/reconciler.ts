import type { Logger } from "../../services/runtime/logger.js";
import {
  FINALIZER,
  SERVICES,
  type Condition,
  type MessagingCluster,
  type MessagingClusterStatus,
  type SecretKeyRef,
  type Service,
} from "../api/v1alpha1/messagingcluster.js";
import { settingProblems } from "../api/v1alpha1/settings.js";
import { FIELD_MANAGER, names, ownedSelector, selectorString, serviceReplicas, viewOf, type ClusterView } from "../builders/cluster.js";
import { digest } from "../builders/environment.js";
import { desiredObjects, OWNED_KINDS, type DesiredObject } from "../builders/objects.js";
import type { Credentials, ExternalState } from "../external/external-state.js";
import { refOf, RESOURCES, type KubeApi, type ResourceRef } from "../kube/kube-api.js";
import type { Deployment } from "../kube/types.js";
import { conditionOf, setCondition, statusChanged, type ConditionUpdate } from "./conditions.js";
import type { EventRecorder } from "./events.js";

export interface ReconcileResult {
  /** Reconcile again after this long even if nothing changes (level-triggered re-check). */
  requeueAfterMs?: number;
}

/** What the autoscaler last saw and did for a cluster (shown in status). */
export interface ScalingSnapshot {
  connections?: number;
  desiredReplicas?: number;
  lastScaleTime?: string;
}

export interface ReconcilerOptions {
  kube: KubeApi;
  external: ExternalState;
  events: EventRecorder;
  logger: Logger;
  /** A Deployment from the informer cache, if the caller has one. */
  cachedDeployment?: (namespace: string, name: string) => Deployment | undefined;
  /** The autoscaler's latest reading of a cluster (by uid). */
  scaling?: (uid: string) => ScalingSnapshot | undefined;
  /** How often back-end state is checked again when nothing changed (default 10 min). */
  externalResyncMs?: number;
  now?: () => Date;
}

/** A back end could not be set up; the status says which. The queue retries with backoff. */
export class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DependencyError";
  }
}

type Dependency = "kafka" | "cassandra" | "storage";
const CONDITION_OF: Record<Dependency, "KafkaReady" | "CassandraReady" | "StorageReady"> = {
  kafka: "KafkaReady",
  cassandra: "CassandraReady",
  storage: "StorageReady",
};

interface DependencyResult {
  ok: boolean;
  message: string;
  reason: string;
  schemaVersion?: number;
}

const REQUEUE_WHILE_PROGRESSING_MS = 30_000;

/**
 * Brings one MessagingCluster's world in line with its spec, from scratch each time
 * (level-triggered): finalizer, back ends (topics, keyspace and migrations, bucket),
 * every child object by server-side apply, pruning of owned objects no longer wanted,
 * then status. Running it again with nothing changed writes nothing.
 */
export class Reconciler {
  /** Last successful back-end check per cluster and back end: spec digest and time. */
  private readonly checked = new Map<string, { digest: string; at: number; result: DependencyResult }>();
  /** Last credentials that were read, for cleanup when the Secrets are deleted first (namespace deletion). */
  private readonly lastCredentials = new Map<string, Credentials>();
  /** Digest of the desired object set last pruned against, per cluster. */
  private readonly pruned = new Map<string, string>();
  /** Generation (or resourceVersion) of each applied object after the last apply. */
  private readonly versions = new Map<string, string>();
  private readonly externalResyncMs: number;
  private readonly now: () => Date;

  constructor(private readonly options: ReconcilerOptions) {
    this.externalResyncMs = options.externalResyncMs ?? 600_000;
    this.now = options.now ?? (() => new Date());
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const { kube } = this.options;
    const ref: ResourceRef = { ...RESOURCES.messagingClusters, namespace, name };
    const cluster = await kube.get<MessagingCluster>(ref);
    if (cluster === undefined) return {};
    const view = viewOf(cluster);

    if (cluster.metadata.deletionTimestamp !== undefined) {
      await this.finalize(cluster, view);
      return {};
    }
    if (!(cluster.metadata.finalizers ?? []).includes(FINALIZER)) {
      const updated = await kube.jsonPatch<MessagingCluster>(ref, [
        { op: "test", path: "/metadata/resourceVersion", value: cluster.metadata.resourceVersion },
        cluster.metadata.finalizers === undefined
          ? { op: "add", path: "/metadata/finalizers", value: [FINALIZER] }
          : { op: "add", path: "/metadata/finalizers/-", value: FINALIZER },
      ]);
      cluster.metadata.resourceVersion = updated.metadata.resourceVersion;
      cluster.metadata.finalizers = updated.metadata.finalizers;
    }

    const generation = view.generation;
    const now = this.now();
    let conditions: Condition[] = [...(cluster.status?.conditions ?? [])];
    const set = (update: ConditionUpdate): void => {
      conditions = setCondition(conditions, update, generation, now);
    };

    // 1. The spec: what the API server's schema cannot check (setting values).
    const problems = SERVICES.flatMap((service) => settingProblems(cluster.spec[service].settings ?? {}, `spec.${service}.settings`));
    if (problems.length > 0) {
      const message = problems.join("; ");
      if (conditionOf(cluster.status, "Ready")?.message !== message) this.options.events.record(cluster, "Warning", "InvalidSpec", message);
      set({ type: "Ready", status: "False", reason: "InvalidSpec", message });
      set({ type: "Degraded", status: "True", reason: "InvalidSpec", message });
      await this.writeStatus(cluster, { ...cluster.status, observedGeneration: generation, conditions });
      return {};
    }

    // 2. Credentials, then the back ends (concurrently; each has its own condition).
    const { credentials, missing } = await this.readCredentials(view);
    const [kafka, cassandra, storage] = await Promise.all([
      this.dependency(cluster, view, "kafka", missing.kafka, credentials),
      this.dependency(cluster, view, "cassandra", missing.cassandra, credentials),
      this.dependency(cluster, view, "storage", missing.storage, credentials),
    ]);
    const results = { kafka, cassandra, storage };
    for (const dep of ["kafka", "cassandra", "storage"] as const) {
      const result = results[dep];
      set({ type: CONDITION_OF[dep], status: result.ok ? "True" : "False", reason: result.reason, message: result.message });
    }
    const schemaVersion = cassandra.schemaVersion ?? cluster.status?.schemaVersion;
    const dependenciesReady = kafka.ok && cassandra.ok && storage.ok;

    // 3. The child objects: only once the back ends have been set up (the services
    // need the schema and the topics); afterwards always, so a back-end outage never
    // takes the workloads away.
    const bootstrapped = cluster.status?.schemaVersion !== undefined;
    const deployments = new Map<Service, Deployment | undefined>();
    if (dependenciesReady || bootstrapped) {
      const desired = desiredObjects(view);
      for (const object of desired) {
        const applied = await this.apply(cluster, object);
        if (object.kind === "Deployment") deployments.set(object.metadata.labels["app.kubernetes.io/component"] as Service, applied as Deployment);
      }
      await this.prune(view, desired);
    } else {
      for (const service of SERVICES) deployments.set(service, await this.deployment(view, service));
    }

    // 4. Status.
    const rollouts = SERVICES.map((service) => ({ service, ...rolloutOf(deployments.get(service), serviceReplicas(view.spec, service)) }));
    const notDone = rollouts.filter((r) => !r.done);
    const stuck = rollouts.filter((r) => r.stuck);
    const failed = (["kafka", "cassandra", "storage"] as const).filter((dep) => !results[dep].ok);
    const jwtProblem = missing.jwt;

    if (notDone.length > 0) {
      set({ type: "Progressing", status: "True", reason: "RollingOut", message: notDone.map((r) => `${r.service}: ${r.message}`).join("; ") });
    } else {
      set({ type: "Progressing", status: "False", reason: "RolloutComplete", message: "every Deployment runs its wanted pods" });
    }
    if (failed.length > 0 || stuck.length > 0 || jwtProblem !== undefined) {
      const reasons = [
        ...failed.map((dep) => `${CONDITION_OF[dep]}: ${results[dep].message}`),
        ...stuck.map((r) => `${r.service}: ${r.message}`),
        ...(jwtProblem === undefined ? [] : [`jwtSecret: ${jwtProblem}`]),
      ];
      const reason = failed.length > 0 ? "BackendUnavailable" : stuck.length > 0 ? "RolloutStuck" : "SecretUnavailable";
      set({ type: "Degraded", status: "True", reason, message: reasons.join("; ") });
    } else {
      set({ type: "Degraded", status: "False", reason: "AsExpected", message: "no problem found" });
    }
    if (!dependenciesReady) {
      set({ type: "Ready", status: "False", reason: "BackendsNotReady", message: `waiting for ${failed.map((dep) => CONDITION_OF[dep]).join(", ")}` });
    } else if (jwtProblem !== undefined) {
      set({ type: "Ready", status: "False", reason: "SecretUnavailable", message: `jwtSecret: ${jwtProblem}` });
    } else if (notDone.length > 0) {
      set({ type: "Ready", status: "False", reason: "ServicesNotReady", message: notDone.map((r) => `${r.service}: ${r.message}`).join("; ") });
    } else {
      set({ type: "Ready", status: "True", reason: "AllServicesAvailable", message: "every service is available and every back end is set up" });
    }

    const scaling = this.options.scaling?.(view.uid);
    const gatewayDeployment = deployments.get("gateway");
    const old = cluster.status ?? {};
    const status: MessagingClusterStatus = {
      ...old,
      observedGeneration: generation,
      conditions,
      clusterName: view.clusterName,
      ...(schemaVersion === undefined ? {} : { schemaVersion }),
      gateway: {
        ...old.gateway,
        replicas: gatewayDeployment?.status?.replicas ?? 0,
        selector: selectorString(view, "gateway"),
        ...(scaling?.connections === undefined ? {} : { connections: scaling.connections }),
        ...(scaling?.desiredReplicas === undefined ? {} : { desiredReplicas: scaling.desiredReplicas }),
        ...(scaling?.lastScaleTime === undefined ? {} : { lastScaleTime: scaling.lastScaleTime }),
      },
      readyReplicas: Object.fromEntries(rollouts.map((r) => [r.service, r.ready])),
    };
    await this.writeStatus(cluster, status);

    if (failed.length > 0) throw new DependencyError(failed.map((dep) => `${CONDITION_OF[dep]}: ${results[dep].message}`).join("; "));
    return { requeueAfterMs: notDone.length > 0 ? REQUEUE_WHILE_PROGRESSING_MS : this.externalResyncMs };
  }

  /** The cluster is gone from the API: drop what was kept for it. */
  forget(uid: string): void {
    for (const key of [...this.checked.keys()]) if (key.startsWith(`${uid}/`)) this.checked.delete(key);
    this.lastCredentials.delete(uid);
    this.pruned.delete(uid);
  }

  private async finalize(cluster: MessagingCluster, view: ClusterView): Promise<void> {
    const finalizers = cluster.metadata.finalizers ?? [];
    const index = finalizers.indexOf(FINALIZER);
    if (index === -1) return;
    const { external, events } = this.options;
    if (view.spec.reclaimPolicy === "Delete") {
      const { credentials } = await this.readCredentials(view);
      const known = { ...this.lastCredentials.get(view.uid), ...definedOnly(credentials) };
      // Namespace deletion removes the Secrets too, maybe before this runs: what needs a
      // credential nobody can read any more is left (and said so) rather than blocking
      // the deletion forever.
      const needsCassandraLogin = view.spec.cassandra.username !== undefined;
      const cassandraUsable = !needsCassandraLogin || (known.cassandraUsername !== undefined && known.cassandraPassword !== undefined);
      const s3Usable = known.s3AccessKey !== undefined && known.s3SecretKey !== undefined;
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
    } else {
      events.record(
        cluster,
        "Normal",
        "DataRetained",
        `reclaimPolicy Retain: kept topics under ${view.topicPrefix}, keyspace ${view.spec.cassandra.keyspace} and bucket ${view.spec.objectStorage.bucket}`,
      );
    }
    await this.options.kube.jsonPatch({ ...RESOURCES.messagingClusters, namespace: view.namespace, name: view.name }, [
      { op: "test", path: `/metadata/finalizers/${index}`, value: FINALIZER },
      { op: "remove", path: `/metadata/finalizers/${index}` },
    ]);
    this.forget(view.uid);
  }

  private async dependency(
    cluster: MessagingCluster,
    view: ClusterView,
    dep: Dependency,
    missing: string | undefined,
    credentials: Credentials,
  ): Promise<DependencyResult> {
    if (missing !== undefined) return { ok: false, reason: "SecretUnavailable", message: missing };
    const { spec } = view;
    const input =
      dep === "kafka"
        ? { kafka: spec.kafka, prefix: view.topicPrefix, deleteWithGroup: spec.kafka.groupTopics.deleteWithGroup ? spec.cassandra : null }
        : dep === "cassandra"
          ? { cassandra: spec.cassandra, image: spec.image.tag }
          : { storage: spec.objectStorage };
    const key = `${view.uid}/${dep}`;
    const inputDigest = digest({ input, credentials: dep === "kafka" ? {} : credentials });
    const previous = this.checked.get(key);
    const nowMs = this.now().getTime();
    if (previous?.digest === inputDigest && nowMs - previous.at < this.externalResyncMs) return previous.result;

    const { external, events } = this.options;
    const wasOk = conditionOf(cluster.status, CONDITION_OF[dep])?.status === "True";
    let result: DependencyResult;
    try {
      if (dep === "kafka") {
        const outcome = await external.ensureKafka(view, credentials);
        if (outcome.created.length > 0) events.record(cluster, "Normal", "TopicsCreated", `created topics ${outcome.created.join(", ")}`);
        if (outcome.groupTopicsUpdated.length > 0) {
          events.record(cluster, "Normal", "GroupTopicsUpdated", `brought ${outcome.groupTopicsUpdated.length} group topics in line with kafka.groupTopics`);
        }
        if (outcome.groupTopicsDeleted.length > 0) {
          events.record(cluster, "Normal", "GroupTopicsDeleted", `deleted ${outcome.groupTopicsDeleted.length} topics of deleted groups`);
        }
        result = { ok: true, reason: "TopicsReady", message: `${outcome.baseTopics.length} base topics and ${outcome.groupTopics - outcome.groupTopicsDeleted.length} group topics under ${view.topicPrefix}` };
      } else if (dep === "cassandra") {
        const outcome = await external.ensureCassandra(view, credentials);
        if (outcome.applied.length > 0) {
          events.record(cluster, "Normal", "MigrationsApplied", `applied schema migrations ${outcome.applied.join(", ")} to keyspace ${spec.cassandra.keyspace}`);
        }
        result = { ok: true, reason: "SchemaCurrent", message: `keyspace ${spec.cassandra.keyspace} at schema version ${outcome.schemaVersion}`, schemaVersion: outcome.schemaVersion };
      } else {
        const outcome = await external.ensureBucket(view, credentials);
        if (outcome.created) events.record(cluster, "Normal", "BucketCreated", `created bucket ${spec.objectStorage.bucket}`);
        result = { ok: true, reason: "BucketReady", message: `bucket ${spec.objectStorage.bucket} exists` };
      }
      this.checked.set(key, { digest: inputDigest, at: nowMs, result });
    } catch (error) {
      this.checked.delete(key);
      const message = messageOf(error);
      result = { ok: false, reason: dep === "kafka" ? "KafkaUnavailable" : dep === "cassandra" ? "CassandraUnavailable" : "StorageUnavailable", message };
      if (wasOk || conditionOf(cluster.status, CONDITION_OF[dep])?.message !== message) {
        events.record(cluster, "Warning", result.reason, message);
      }
    }
    return result;
  }

  /** Reads the Secrets the spec names; what is missing is reported per back end. */
  private async readCredentials(view: ClusterView): Promise<{ credentials: Credentials; missing: Partial<Record<Dependency | "jwt", string>> }> {
    const { spec } = view;
    const secrets = new Map<string, Promise<Record<string, string> | undefined>>();
    const read = async (ref: SecretKeyRef | undefined): Promise<{ value?: string; problem?: string }> => {
      if (ref === undefined) return {};
      const { name, key } = ref.secretKeyRef;
      let pending = secrets.get(name);
      if (pending === undefined) {
        pending = this.options.kube.get<{ data?: Record<string, string> }>({ ...RESOURCES.secrets, namespace: view.namespace, name }).then((s) => s?.data ?? (s ? {} : undefined));
        secrets.set(name, pending);
      }
      const data = await pending;
      if (data === undefined) return { problem: `Secret ${name} not found` };
      const encoded = data[key];
      if (encoded === undefined) return { problem: `Secret ${name} has no key ${key}` };
      return { value: Buffer.from(encoded, "base64").toString("utf8") };
    };
    const [jwt, cassandraUsername, cassandraPassword, redisPassword, s3AccessKey, s3SecretKey] = await Promise.all([
      read(spec.jwtSecret),
      read(spec.cassandra.username),
      read(spec.cassandra.password),
      read(spec.redis.password),
      read(spec.objectStorage.accessKey),
      read(spec.objectStorage.secretKey),
    ]);
    const credentials: Credentials = {
      cassandraUsername: cassandraUsername.value,
      cassandraPassword: cassandraPassword.value,
      redisPassword: redisPassword.value,
      s3AccessKey: s3AccessKey.value,
      s3SecretKey: s3SecretKey.value,
    };
    const missing: Partial<Record<Dependency | "jwt", string>> = {};
    const cassandraProblem = cassandraUsername.problem ?? cassandraPassword.problem;
    if (cassandraProblem !== undefined) {
      missing.cassandra = cassandraProblem;
      if (spec.kafka.groupTopics.deleteWithGroup) missing.kafka = `kafka.groupTopics.deleteWithGroup reads the group store: ${cassandraProblem}`;
    }
    const s3Problem = s3AccessKey.problem ?? s3SecretKey.problem;
    if (s3Problem !== undefined) missing.storage = s3Problem;
    if (jwt.problem !== undefined) missing.jwt = jwt.problem;
    else if (jwt.value !== undefined && jwt.value.length < 32) missing.jwt = `the secret in ${spec.jwtSecret.secretKeyRef.name}/${spec.jwtSecret.secretKeyRef.key} is shorter than 32 characters`;
    if (Object.keys(missing).length === 0 || this.lastCredentials.get(view.uid) === undefined) {
      this.lastCredentials.set(view.uid, { ...this.lastCredentials.get(view.uid), ...definedOnly(credentials) });
    }
    return { credentials, missing };
  }

  private async apply(cluster: MessagingCluster, object: DesiredObject): Promise<unknown> {
    const ref = refOf(object);
    const key = `${object.kind}/${object.metadata.namespace}/${object.metadata.name}`;
    const { object: applied, created } = await this.options.kube.apply<{ metadata: { generation?: number; resourceVersion?: string } }>(ref, object, {
      fieldManager: FIELD_MANAGER,
      force: true,
    });
    const version = String(applied.metadata.generation ?? applied.metadata.resourceVersion ?? "");
    const before = this.versions.get(key);
    this.versions.set(key, version);
    if (created) this.options.events.record(cluster, "Normal", "Created", `created ${object.kind} ${object.metadata.name}`);
    else if (before !== undefined && before !== version) this.options.events.record(cluster, "Normal", "Updated", `updated ${object.kind} ${object.metadata.name}`);
    return applied;
  }

  /** Deletes objects this cluster owns that its spec no longer asks for; nothing else. */
  private async prune(view: ClusterView, desired: DesiredObject[]): Promise<void> {
    const wanted = new Set(desired.map((o) => `${o.kind}/${o.metadata.name}`));
    const setDigest = digest([...wanted].sort());
    if (this.pruned.get(view.uid) === setDigest) return;
    for (const kind of OWNED_KINDS) {
      const list = await this.options.kube.list<{ metadata: { name: string; ownerReferences?: { uid: string }[] } }>(
        { apiVersion: kind.apiVersion, plural: kind.plural, namespace: view.namespace },
        { labelSelector: ownedSelector(view) },
      );
      for (const item of list.items) {
        const owned = (item.metadata.ownerReferences ?? []).some((owner) => owner.uid === view.uid);
        if (!owned || wanted.has(`${kind.kind}/${item.metadata.name}`)) continue;
        await this.options.kube.delete({ apiVersion: kind.apiVersion, plural: kind.plural, namespace: view.namespace, name: item.metadata.name });
        this.options.logger.info({ kind: kind.kind, name: item.metadata.name }, "pruned an object the cluster no longer needs");
      }
    }
    this.pruned.set(view.uid, setDigest);
  }

  private async deployment(view: ClusterView, service: Service): Promise<Deployment | undefined> {
    const name = names.deployment(view, service);
    return (
      this.options.cachedDeployment?.(view.namespace, name) ??
      (await this.options.kube.get<Deployment>({ ...RESOURCES.deployments, namespace: view.namespace, name }))
    );
  }

  private async writeStatus(cluster: MessagingCluster, status: MessagingClusterStatus): Promise<void> {
    if (!statusChanged(cluster.status, status)) return;
    await this.options.kube.mergePatch(
      { ...RESOURCES.messagingClusters, namespace: cluster.metadata.namespace, name: cluster.metadata.name, subresource: "status" },
      { status },
    );
  }
}

/** How far a Deployment is from running `desired` up-to-date, ready pods. */
export function rolloutOf(deployment: Deployment | undefined, desired: number): { ready: number; done: boolean; stuck: boolean; message: string } {
  if (deployment === undefined) return { ready: 0, done: false, stuck: false, message: "Deployment not created yet" };
  const status = deployment.status ?? {};
  const ready = status.readyReplicas ?? 0;
  const updated = status.updatedReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const observed = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  const stuck = (status.conditions ?? []).some((c) => c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded");
  const done = observed && updated >= desired && ready >= desired && available >= desired && (status.replicas ?? 0) <= desired;
  const message = !observed
    ? "change not yet observed by the Deployment controller"
    : stuck
      ? "rollout exceeded its progress deadline"
      : `${ready}/${desired} ready, ${updated}/${desired} up to date`;
  return { ready, done, stuck, message };
}

function definedOnly(credentials: Credentials): Credentials {
  return Object.fromEntries(Object.entries(credentials).filter(([, v]) => v !== undefined));
}

export function messageOf(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(messageOf).join("; ");
  return error instanceof Error ? error.message : String(error);
}
