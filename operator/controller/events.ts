import { randomBytes } from "node:crypto";
import type { Logger } from "../../services/runtime/logger.js";
import { API_VERSION, KIND, type MessagingCluster } from "../api/v1alpha1/messagingcluster.js";
import { RESOURCES, type KubeApi } from "../kube/kube-api.js";

export type EventType = "Normal" | "Warning";

/** Records what the operator did on a MessagingCluster as Kubernetes Events (kubectl describe). */
export interface EventRecorder {
  record(cluster: MessagingCluster, type: EventType, reason: string, message: string): void;
}

/** Writes core/v1 Events; a failure to record is logged, never fails a reconcile. */
export class KubeEventRecorder implements EventRecorder {
  constructor(
    private readonly kube: KubeApi,
    private readonly logger: Logger,
    private readonly instance: string,
  ) {}

  record(cluster: MessagingCluster, type: EventType, reason: string, message: string): void {
    const now = new Date().toISOString();
    const { name, namespace, uid, resourceVersion } = cluster.metadata;
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${name}.${Date.now().toString(16)}${randomBytes(3).toString("hex")}`, namespace },
      involvedObject: { apiVersion: API_VERSION, kind: KIND, name, namespace, uid, resourceVersion },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: "parley-operator" },
      reportingComponent: "parley-operator",
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    this.logger.info({ cluster: `${namespace}/${name}`, type, reason }, message);
    this.kube.create({ ...RESOURCES.events, namespace }, event).catch((error: unknown) => {
      this.logger.warn({ err: error, reason }, "could not record an event");
    });
  }
}

/** Keeps events in memory (unit tests). */
export class MemoryEventRecorder implements EventRecorder {
  readonly events: { cluster: string; type: EventType; reason: string; message: string }[] = [];

  record(cluster: MessagingCluster, type: EventType, reason: string, message: string): void {
    this.events.push({ cluster: `${cluster.metadata.namespace}/${cluster.metadata.name}`, type, reason, message });
  }

  reasons(): string[] {
    return this.events.map((e) => e.reason);
  }
}
