import { createLogger } from "../../services/runtime/logger.js";
import type { MessagingCluster, MessagingClusterSpec, MessagingClusterStatus } from "../api/v1alpha1/messagingcluster.js";
import { MemoryEventRecorder } from "../controller/events.js";
import { ReconcileContext } from "../controller/reconcile/step.js";
import { RESOURCES } from "../kube/kube-api.js";
import { FakeExternalState } from "./fake-external-state.js";
import { FakeKubeApi } from "./fake-kube-api.js";
import { defaultedSpec, messagingCluster, secretData } from "./fixtures.js";

/** A clock a test moves by hand (cache ages, condition times). */
export class ManualClock {
  private ms: number;

  constructor(start = "2026-01-01T00:00:00Z") {
    this.ms = Date.parse(start);
  }

  readonly now = (): Date => new Date(this.ms);

  advance(ms: number): void {
    this.ms += ms;
  }
}

export const clusterRef = { ...RESOURCES.messagingClusters, namespace: "team", name: "demo" };

/**
 * What one reconcile step needs around it: the in-memory API server holding cluster
 * team/demo and its Secret `creds` (jwt, access, secret), in-memory back ends, an event
 * recorder and a manual clock. context() starts a reconcile from the stored cluster.
 */
export function stepHarness(spec: MessagingClusterSpec = defaultedSpec(), status?: MessagingClusterStatus) {
  const kube = new FakeKubeApi();
  const external = new FakeExternalState();
  const events = new MemoryEventRecorder();
  const clock = new ManualClock();
  const logger = createLogger("silent");
  kube.seed({ ...RESOURCES.secrets, namespace: "team" }, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "creds", namespace: "team" },
    data: secretData({ jwt: "x".repeat(40), access: "ak", secret: "sk" }),
  });
  const cluster = messagingCluster("demo", "team", spec);
  kube.seed(RESOURCES.messagingClusters, { ...cluster, ...(status === undefined ? {} : { status }) });
  const stored = (): MessagingCluster => kube.object(clusterRef) as unknown as MessagingCluster;
  const context = (): ReconcileContext => new ReconcileContext(stored(), clock.now());
  return { kube, external, events, clock, logger, stored, context };
}
