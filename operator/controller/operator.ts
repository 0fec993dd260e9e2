import type { Server } from "node:http";
import { hostname } from "node:os";
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { close, listen } from "../../services/runtime/http-server.js";
import type { Logger } from "../../services/runtime/logger.js";
import { KIND, type MessagingCluster } from "../api/v1alpha1/messagingcluster.js";
import { MANAGED_BY } from "../builders/cluster.js";
import type { ConnectionSource } from "../external/connection-source.js";
import type { ExternalState } from "../external/external-state.js";
import { HttpKubeApi } from "../kube/http-kube-api.js";
import { resourcePath, RESOURCES, type KubeApi } from "../kube/kube-api.js";
import type { Deployment } from "../kube/types.js";
import { KubeEventRecorder, type EventRecorder } from "./events.js";
import { GatewayScaling } from "./gateway-scaling.js";
import { createOperatorHttpServer } from "./http-endpoints.js";
import { LeaderElector } from "./leader-election.js";
import { OperatorMetrics } from "./metrics.js";
import { messageOf } from "./reconcile/errors.js";
import { Reconciler } from "./reconciler.js";
import { WorkQueue } from "./work-queue.js";

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  external: ExternalState;
  connections: ConnectionSource;
  logger: Logger;
  /** Reconcile MessagingClusters of this namespace only (default: every namespace). */
  namespace?: string;
  /** Reconcile only MessagingClusters with these labels (a label selector, e.g. `parley.io/operator=canary`). */
  selector?: string;
  /** Reconciles running at once (different clusters; one cluster is never reconciled twice at once). Default 2. */
  workers?: number;
  /** Serve /healthz, /readyz and /metrics here (omit for none). */
  http?: { host: string; port: number };
  /** Campaign for a Lease before reconciling (default: no election, this replica leads). */
  leaderElection?: { namespace: string; name: string; identity?: string; leaseDurationSeconds?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  /** Called when leadership is lost after it was held: the process should exit and restart. */
  onLostLeadership?: () => void;
  /** How often gateways' connections are read and autoscaling is decided. Default 15 s. */
  autoscalerIntervalMs?: number;
  externalResyncMs?: number;
  /** Defaults to HttpKubeApi on kubeConfig. */
  kube?: KubeApi;
  events?: EventRecorder;
  metrics?: OperatorMetrics;
  /** Backoff of failed reconciles. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

/** Watch events carry the API's JSON as it is (timestamps are strings), which is what MessagingCluster describes. */
function asCluster(object: KubernetesObject): MessagingCluster {
  return object as unknown as MessagingCluster;
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/**
 * The MessagingCluster controller: informers on MessagingClusters and on the Deployments
 * it owns feed a work queue; workers reconcile keys one at a time each; the autoscaler
 * loop reads connections and scales gateways; all of it only while this replica holds
 * the leader lease.
 */
export class Operator {
  readonly metrics: OperatorMetrics;
  readonly queue: WorkQueue;
  readonly reconciler: Reconciler;
  readonly scaling: GatewayScaling;
  private readonly kube: KubeApi;
  private readonly ownsKube: boolean;
  private readonly logger: Logger;
  private clusters: ListWatch<KubernetesObject> | undefined;
  private deployments: ListWatch<KubernetesObject> | undefined;
  private elector: LeaderElector | undefined;
  private server: Server | undefined;
  private workers: Promise<void>[] = [];
  private autoscalerTimer: NodeJS.Timeout | undefined;
  private autoscaling: Promise<void> | undefined;
  private leading = false;
  private synced = false;
  private stopping = false;
  private readonly seen = new Map<string, string>();
  private readonly informerRetry = new Map<string, number>();
  /** Per informer: whether its latest list and watch reached the API server, and errors seen (to tell a start that failed). */
  private readonly informerHealth = new Map<string, { synced: boolean; errors: number; starting: boolean; lastError?: unknown }>();
  /** Pending informer retries, each with what ends its wait early when leadership stops. */
  private readonly informerTimers = new Map<NodeJS.Timeout, () => void>();
  /** Reconciles run since start (for throughput figures). */
  reconciles = 0;
  private readonly reconciledListeners = new Set<(key: string, error: unknown) => void>();
  url: string | undefined;

  constructor(private readonly options: OperatorOptions) {
    this.logger = options.logger;
    this.kube = options.kube ?? new HttpKubeApi(options.kubeConfig);
    this.ownsKube = options.kube === undefined;
    this.metrics = options.metrics ?? new OperatorMetrics();
    this.queue = new WorkQueue({
      baseDelayMs: options.baseBackoffMs ?? 500,
      maxDelayMs: options.maxBackoffMs ?? 300_000,
      onDepth: (depth) => {
        this.metrics.workqueueDepth.set(depth);
      },
    });
    const identity = options.leaderElection?.identity ?? hostname();
    const events = options.events ?? new KubeEventRecorder(this.kube, this.logger, identity);
    this.scaling = new GatewayScaling({ kube: this.kube, connections: options.connections, events, logger: this.logger });
    this.reconciler = new Reconciler({
      kube: this.kube,
      external: options.external,
      events,
      logger: this.logger,
      cachedDeployment: (namespace, name) => this.deployments?.get(name, namespace) as Deployment | undefined,
      metrics: this.metrics,
      scaling: (uid) => this.scaling.snapshot(uid),
      ...(options.externalResyncMs === undefined ? {} : { externalResyncMs: options.externalResyncMs }),
    });
  }

  /**
   * Ready: standing by for the lease (and the API server answers the lease requests), or
   * leading with caches that are synced and still watched. An informer's failed list or
   * watch makes it not ready until it has listed and watched again.
   */
  get ready(): boolean {
    if (this.stopping) return false;
    if (!this.leading) return this.elector?.reachable ?? false;
    return this.synced && [...this.informerHealth.values()].every((health) => health.synced);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Leading and not stopping: the controller's loops keep going. */
  private get active(): boolean {
    return this.leading && !this.stopping;
  }

  /**
   * Serves HTTP and starts campaigning (or, without election, leading). Resolves without
   * waiting for the caches: the API server may be unreachable for a while, and /readyz
   * and the "caches synced" log tell when they are synced.
   */
  async start(): Promise<void> {
    if (this.options.http) {
      this.server = createOperatorHttpServer(this.metrics, () => this.ready, this.logger);
      this.url = (await listen(this.server, this.options.http.host, this.options.http.port)).url;
    }
    const lead = (): void => {
      this.startLeading().catch((error: unknown) => {
        this.logger.error({ err: error }, "starting the controller failed");
        this.options.onLostLeadership?.();
      });
    };
    const election = this.options.leaderElection;
    if (election === undefined) {
      lead();
      return;
    }
    this.elector = new LeaderElector({
      kube: this.kube,
      logger: this.logger,
      namespace: election.namespace,
      name: election.name,
      identity: election.identity ?? hostname(),
      ...(election.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: election.leaseDurationSeconds }),
      ...(election.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: election.renewDeadlineMs }),
      ...(election.retryPeriodMs === undefined ? {} : { retryPeriodMs: election.retryPeriodMs }),
    });
    this.elector.run(
      lead,
      () => {
        this.metrics.leader.set(0);
        this.stopLeading();
        this.options.onLostLeadership?.();
      },
    );
  }

  /** Graceful stop: no new work, the reconciles under way finish, the lease is released. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopLeading();
    await Promise.all(this.workers);
    await this.autoscaling;
    await this.elector?.stop();
    if (this.server) await close(this.server);
    await this.options.connections.close();
    await this.options.external.close();
    if (this.ownsKube && this.kube instanceof HttpKubeApi) this.kube.close();
  }

  /** Calls listener after every reconcile (with the error, if it failed); returns the unsubscribe function. */
  onReconciled(listener: (key: string, error: unknown) => void): () => void {
    this.reconciledListeners.add(listener);
    return () => this.reconciledListeners.delete(listener);
  }

  /** Reconciles under way. */
  get inFlight(): number {
    return this.busy;
  }

  private busy = 0;

  private async startLeading(): Promise<void> {
    if (this.stopping || this.leading) return;
    this.leading = true;
    this.metrics.leader.set(1);
    const { kubeConfig, namespace, selector: clusterSelector } = this.options;
    const watch = new Watch(kubeConfig);
    const clusterRef = { ...RESOURCES.messagingClusters, ...(namespace === undefined ? {} : { namespace }) };
    this.clusters = new ListWatch<KubernetesObject>(
      resourcePath(clusterRef),
      watch,
      (): Promise<KubernetesListObject<KubernetesObject>> =>
        this.kube.list<KubernetesObject>(clusterRef, clusterSelector === undefined ? {} : { labelSelector: clusterSelector }),
      false,
      clusterSelector,
    );
    const selector = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
    const deploymentRef = { ...RESOURCES.deployments, ...(namespace === undefined ? {} : { namespace }) };
    this.deployments = new ListWatch<KubernetesObject>(
      resourcePath(deploymentRef),
      watch,
      (): Promise<KubernetesListObject<KubernetesObject>> => this.kube.list<KubernetesObject>(deploymentRef, { labelSelector: selector }),
      false,
      selector,
    );

    const onCluster = (object: KubernetesObject): void => {
      const cluster = asCluster(object);
      const key = keyOf(cluster.metadata.namespace, cluster.metadata.name);
      // Status-only updates (the operator's own writes) do not need a reconcile.
      const fingerprint = JSON.stringify([
        cluster.metadata.uid,
        cluster.metadata.generation,
        cluster.metadata.deletionTimestamp,
        cluster.metadata.finalizers,
        cluster.metadata.labels,
        cluster.metadata.annotations,
      ]);
      if (this.seen.get(key) === fingerprint) return;
      this.seen.set(key, fingerprint);
      this.queue.add(key);
    };
    this.clusters.on("add", onCluster);
    this.clusters.on("update", onCluster);
    this.clusters.on("delete", (object) => {
      const cluster = asCluster(object);
      const key = keyOf(cluster.metadata.namespace, cluster.metadata.name);
      this.seen.delete(key);
      this.reconciler.forget(cluster.metadata.uid);
      void this.scaling.forget(cluster.metadata.uid);
      this.metrics.gatewayConnections.remove({ namespace: cluster.metadata.namespace, name: cluster.metadata.name });
    });
    const onDeployment = (deployment: KubernetesObject): void => {
      const owner = deployment.metadata?.ownerReferences?.find((ref) => ref.kind === KIND && ref.controller === true);
      // Only clusters this operator watches (see selector).
      if (owner && this.clusters?.get(owner.name, deployment.metadata?.namespace) !== undefined) {
        this.queue.add(keyOf(deployment.metadata?.namespace, owner.name));
      }
    };
    this.deployments.on("add", onDeployment);
    this.deployments.on("update", onDeployment);
    this.deployments.on("delete", onDeployment);
    for (const [name, informer] of [
      ["messagingclusters", this.clusters],
      ["deployments", this.deployments],
    ] as const) {
      const health: { synced: boolean; errors: number; starting: boolean; lastError?: unknown } = { synced: false, errors: 0, starting: false };
      this.informerHealth.set(name, health);
      informer.on("error", (error: unknown) => {
        health.synced = false;
        health.errors += 1;
        health.lastError = error;
        // A failure while starting is retried by startInformer itself.
        if (!health.starting) this.restartInformer(name, informer as ListWatch<never>, error);
      });
    }

    await Promise.all([this.startInformer("deployments", this.deployments), this.startInformer("messagingclusters", this.clusters)]);
    // Leadership may have ended (or a stop begun) while the informers were starting.
    if (!this.active) return;
    this.synced = true;
    this.logger.info({ namespace: namespace ?? "(all)" }, "operator caches synced; reconciling");

    const workers = this.options.workers ?? 2;
    this.workers = Array.from({ length: workers }, () => this.work());
    const interval = this.options.autoscalerIntervalMs ?? 15_000;
    this.autoscalerTimer = setInterval(() => {
      if (this.autoscaling) return;
      this.autoscaling = this.pollConnections().finally(() => {
        this.autoscaling = undefined;
      });
    }, interval);
  }

  private stopLeading(): void {
    if (!this.leading) return;
    this.leading = false;
    this.synced = false;
    clearInterval(this.autoscalerTimer);
    for (const [timer, wake] of this.informerTimers) {
      clearTimeout(timer);
      wake();
    }
    this.informerTimers.clear();
    void this.clusters?.stop();
    void this.deployments?.stop();
    this.queue.shutDown();
  }

  /**
   * Lists and watches until both reached the API server. ListWatch.start() resolves even
   * when its list or watch failed (it reports that as an "error" event), so a start counts
   * only when no error came during it.
   */
  private async startInformer(name: string, informer: ListWatch<never> | ListWatch<KubernetesObject>): Promise<void> {
    const health = this.informerHealth.get(name);
    if (health === undefined) return;
    while (this.active) {
      const errorsBefore = health.errors;
      let failed = false;
      health.starting = true;
      try {
        await informer.start();
      } catch (error) {
        failed = true;
        health.lastError = error;
      } finally {
        health.starting = false;
      }
      if (!failed && health.errors === errorsBefore) {
        health.synced = true;
        if (this.informerRetry.delete(name)) this.logger.info({ informer: name }, "listing and watching again");
        return;
      }
      const delay = this.nextInformerDelay(name);
      this.logger.warn({ err: messageOf(health.lastError), informer: name, retryInMs: delay }, "listing and watching failed; not ready");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.informerTimers.delete(timer);
          resolve();
        }, delay);
        this.informerTimers.set(timer, resolve);
      });
    }
  }

  private nextInformerDelay(name: string): number {
    const attempt = this.informerRetry.get(name) ?? 0;
    this.informerRetry.set(name, attempt + 1);
    return Math.min(30_000, 500 * 2 ** attempt);
  }

  private restartInformer(name: string, informer: ListWatch<never>, error: unknown): void {
    if (!this.leading || this.stopping) return;
    const delay = this.nextInformerDelay(name);
    this.logger.warn({ err: error, informer: name, retryInMs: delay }, "watch failed; listing and watching again");
    const timer = setTimeout(() => {
      this.informerTimers.delete(timer);
      if (this.leading && !this.stopping) void this.startInformer(name, informer);
    }, delay);
    this.informerTimers.set(timer, () => undefined);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.busy += 1;
      const [namespace, name] = splitKey(key);
      const stopTimer = this.metrics.reconcileDuration.startTimer();
      let failure: unknown;
      try {
        const result = await this.reconciler.reconcile(namespace, name);
        this.metrics.reconciles.inc({ result: "success" });
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        failure = error;
        this.metrics.reconciles.inc({ result: "error" });
        this.metrics.reconcileErrors.inc();
        const delay = this.queue.addRateLimited(key);
        this.logger.warn({ cluster: key, err: messageOf(error), retryInMs: delay }, "reconcile failed");
      } finally {
        stopTimer();
        this.reconciles += 1;
        this.busy -= 1;
        this.queue.done(key);
        for (const listener of this.reconciledListeners) listener(key, failure);
      }
    }
  }

  /** One autoscaler round over every cluster in the cache. */
  async pollConnections(): Promise<void> {
    for (const cluster of (this.clusters?.list() ?? []).map(asCluster)) {
      if (!this.leading || this.stopping) return;
      if (cluster.metadata.deletionTimestamp !== undefined) continue;
      try {
        const result = await this.scaling.poll(cluster);
        if (result.connections !== undefined) {
          this.metrics.gatewayConnections.set({ namespace: cluster.metadata.namespace, name: cluster.metadata.name }, result.connections);
        }
        if (result.changed) this.queue.add(keyOf(cluster.metadata.namespace, cluster.metadata.name));
      } catch (error) {
        this.logger.warn({ cluster: keyOf(cluster.metadata.namespace, cluster.metadata.name), err: messageOf(error) }, "autoscaling failed");
      }
    }
  }
}
