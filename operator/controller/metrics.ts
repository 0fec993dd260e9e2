import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The operator's Prometheus metrics (served on /metrics): its own under `parley_operator_`,
 * the standard process and Node.js metrics of prom-client under their usual names.
 */
export class OperatorMetrics {
  readonly registry = new Registry();

  readonly reconciles = new Counter({
    name: "parley_operator_reconciles_total",
    help: "Reconciles of MessagingClusters, by result (success, error)",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly reconcileErrors = new Counter({
    name: "parley_operator_reconcile_errors_total",
    help: "Reconciles that failed and were queued again with backoff",
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: "parley_operator_reconcile_duration_seconds",
    help: "Time one reconcile of a MessagingCluster took",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly workqueueDepth = new Gauge({
    name: "parley_operator_workqueue_depth",
    help: "MessagingCluster keys waiting in the work queue",
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: "parley_operator_is_leader",
    help: "1 while this operator replica holds the leader lease",
    registers: [this.registry],
  });

  readonly gatewayConnections = new Gauge({
    name: "parley_operator_gateway_connections",
    help: "Live WebSocket connections per MessagingCluster, as the autoscaler read them",
    labelNames: ["namespace", "name"] as const,
    registers: [this.registry],
  });

  readonly readyReplicas = new Gauge({
    name: "parley_operator_ready_replicas",
    help: "Ready pods of each service of a MessagingCluster, as of its latest reconcile (what status.readyReplicas says)",
    labelNames: ["namespace", "name", "service"] as const,
    registers: [this.registry],
  });

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
