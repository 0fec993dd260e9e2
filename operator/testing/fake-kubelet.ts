import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { HttpKubeApi } from "../kube/http-kube-api.js";
import { isConflict, isNotFound } from "../kube/kube-api.js";

interface Pod {
  metadata: { name: string; namespace: string; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { name: string; image: string }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

/**
 * The test control plane runs no scheduler and no kubelet, so pods would stay Pending.
 * This stands in for both, for the pods of one namespace: it binds each new pod to a
 * node it registers (and keeps alive with heartbeats) and reports the pod Running and
 * Ready, so Deployments report ready replicas and MessagingClusters can become Ready.
 */
export class FakeKubelet {
  private controller: AbortController | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly pending = new Set<Promise<void>>();
  readonly nodeName: string;

  constructor(
    private readonly config: KubeConfig,
    private readonly kube: HttpKubeApi,
    private readonly namespace: string,
  ) {
    this.nodeName = `fake-node-${namespace}`;
  }

  async start(): Promise<void> {
    await this.registerNode();
    this.heartbeat = setInterval(() => {
      void this.renewNode().catch(() => undefined);
    }, 5_000);
    await this.watch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.controller?.abort();
    await Promise.allSettled([...this.pending]);
    await this.kube.delete({ apiVersion: "v1", plural: "nodes", name: this.nodeName });
    await this.kube.delete({ apiVersion: "coordination.k8s.io/v1", plural: "leases", namespace: "kube-node-lease", name: this.nodeName });
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    this.controller = await new Watch(this.config).watch(
      `/api/v1/namespaces/${this.namespace}/pods`,
      {},
      (type: string, pod: Pod) => {
        if (type === "DELETED" || pod.metadata.deletionTimestamp !== undefined) return;
        const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
        if (ready) return;
        const work = this.runWithRetries(pod);
        this.pending.add(work);
        void work.finally(() => this.pending.delete(work));
      },
      () => {
        if (!this.stopped) void this.watch();
      },
    );
  }

  private async runWithRetries(pod: Pod): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.run(pod);
        return;
      } catch (error) {
        if (isNotFound(error) || attempt >= 5) {
          if (!isNotFound(error)) process.stderr.write(`fake kubelet: ${pod.metadata.name}: ${String(error)}\n`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  private async run(pod: Pod): Promise<void> {
    const { name, namespace } = pod.metadata;
    if (pod.spec.nodeName === undefined) {
      try {
        await this.kube.create(
          { apiVersion: "v1", plural: "pods", namespace, name, subresource: "binding" },
          { apiVersion: "v1", kind: "Binding", metadata: { name, namespace }, target: { apiVersion: "v1", kind: "Node", name: this.nodeName } },
        );
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error;
      }
    }
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const condition = (type: string) => ({ type, status: "True", lastTransitionTime: now });
    await this.kube.mergePatch(
      { apiVersion: "v1", plural: "pods", namespace, name, subresource: "status" },
      {
        status: {
          phase: "Running",
          hostIP: "127.0.0.1",
          podIP: "127.0.0.2",
          startTime: now,
          conditions: [condition("PodScheduled"), condition("Initialized"), condition("ContainersReady"), condition("Ready")],
          containerStatuses: pod.spec.containers.map((c) => ({
            name: c.name,
            image: c.image,
            imageID: `fake://${c.image}`,
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: now } },
          })),
        },
      },
    );
  }

  private async registerNode(): Promise<void> {
    try {
      await this.kube.create(
        { apiVersion: "v1", plural: "nodes" },
        { apiVersion: "v1", kind: "Node", metadata: { name: this.nodeName, labels: { "kubernetes.io/hostname": this.nodeName } } },
      );
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
    await this.renewNode();
  }

  private async renewNode(): Promise<void> {
    const now = new Date();
    const stamp = now.toISOString().replace(/\.\d{3}Z$/, "Z");
    await this.kube.mergePatch(
      { apiVersion: "v1", plural: "nodes", name: this.nodeName, subresource: "status" },
      {
        status: {
          conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "fake kubelet", lastHeartbeatTime: stamp, lastTransitionTime: stamp }],
          capacity: { cpu: "64", memory: "256Gi", pods: "500" },
          allocatable: { cpu: "64", memory: "256Gi", pods: "500" },
        },
      },
    );
    const leaseRef = { apiVersion: "coordination.k8s.io/v1", plural: "leases", namespace: "kube-node-lease", name: this.nodeName };
    const micro = now.toISOString().replace("Z", "000Z");
    try {
      await this.kube.mergePatch(leaseRef, { spec: { renewTime: micro, holderIdentity: this.nodeName, leaseDurationSeconds: 40 } });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.kube.create(leaseRef, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.nodeName, namespace: "kube-node-lease" },
        spec: { holderIdentity: this.nodeName, leaseDurationSeconds: 40, renewTime: micro },
      });
    }
  }
}
