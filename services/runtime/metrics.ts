import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The metrics one Parley process exposes on /metrics. One registry per process.
 * Parley's own are named `parley_*`; the standard process and Node.js metrics of
 * prom-client (process_cpu_seconds_total, nodejs_eventloop_lag_p99_seconds, ...) keep
 * their usual names, so stock dashboards and alerts work on them unchanged.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: "parley_gateway_connections",
    help: "WebSocket connections currently open on this gateway",
    registers: [this.registry],
  });

  readonly framesReceived = new Counter({
    name: "parley_gateway_frames_received_total",
    help: "Client frames received, by frame type (invalid for frames that failed validation)",
    labelNames: ["type"] as const,
    registers: [this.registry],
  });

  readonly framesSent = new Counter({
    name: "parley_gateway_frames_sent_total",
    help: "Frames sent to clients, by frame type",
    labelNames: ["type"] as const,
    registers: [this.registry],
  });

  readonly disconnects = new Counter({
    name: "parley_gateway_disconnects_total",
    help: "Connections closed by the gateway, by reason",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly upgradesRejected = new Counter({
    name: "parley_gateway_upgrades_rejected_total",
    help: "WebSocket upgrades refused before the handshake, by HTTP status",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });

  readonly messagesStored = new Counter({
    name: "parley_chat_messages_stored_total",
    help: "Messages stored (retries of an already stored message are not counted)",
    registers: [this.registry],
  });

  readonly deliveryLatency = new Histogram({
    name: "parley_delivery_latency_seconds",
    help: "Time from a message being stored to its frame being written to a recipient's connection, by frame (event: direct messages, receipts, membership; group.messages: group messages, batched ones included)",
    labelNames: ["frame"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly groupDeliveries = new Counter({
    name: "parley_group_deliveries_total",
    help: "Group message deliveries to members, by tier (realtime, batched, offline = notification requested)",
    labelNames: ["tier"] as const,
    registers: [this.registry],
  });

  readonly groupDeliveryDelay = new Histogram({
    name: "parley_group_delivery_delay_seconds",
    help: "Time from a group message being stored to its hand-over to the gateways (or the notification request), by tier",
    labelNames: ["tier"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly notifications = new Counter({
    name: "parley_notifications_total",
    help: "Notifications for offline members, by outcome (sent, rate_limited, failed)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly kafkaConsumerLag = new Gauge({
    name: "parley_kafka_consumer_lag",
    help: "Events published to a Kafka subscription's topics and not yet handled by this process, by consumer group, as of each partition's latest fetch",
    labelNames: ["group"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
