import { bool, map, obj, str } from "./openapi.js";

/** spec.monitoring: how a Prometheus finds the services' /metrics beyond the pods' prometheus.io/* annotations. */
export const monitoring = obj(
  "How Prometheus finds the services' /metrics (every pod also carries prometheus.io/scrape, port and path annotations).",
  {
    podMonitor: obj(
      "A PodMonitor (monitoring.coreos.com/v1, the Prometheus Operator's) that scrapes every pod of the cluster on its http port. " +
        "The operator makes it when that CRD exists; the PodMonitorReady condition says whether it does.",
      {
        enabled: bool("Create the PodMonitor.", { default: false }),
        interval: str("Scrape interval, e.g. 30s. Default: the Prometheus's own.", { pattern: "^[0-9]+(ms|s|m|h)$", maxLength: 16 }),
        labels: map(
          "Extra labels of the PodMonitor, for the podMonitorSelector of the Prometheus that should pick it up (e.g. release: kube-prometheus-stack).",
          str("A label value.", { maxLength: 63, pattern: "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$" }),
          { maxProperties: 16 },
        ),
      },
      { default: {} },
    ),
  },
  { default: {} },
);
