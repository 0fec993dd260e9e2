import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../services/runtime/metrics.js";
import { OperatorMetrics } from "../controller/metrics.js";
import { crdEstablished, kubeTestEnv, run, uniqueName } from "../testing/kube-test-env.js";
import { readPromql, withoutGrafanaVariables } from "../testing/promql-names.js";
import { repositoryRoot } from "../tools/generate-crd.js";

/**
 * The chart's monitoring objects: the alerts (charts/parley/monitoring/alerts.yaml) and the
 * Grafana dashboard (charts/parley/dashboards/parley.json) must name only metrics that the
 * code exports, in valid PromQL (read with Prometheus's own grammar, lezer-promql), and the
 * ServiceMonitor, PodMonitor, PrometheusRule and dashboard ConfigMap must render, lint and
 * pass a server-side dry run on the test API server.
 */
const chart = join(repositoryRoot(), "charts/parley");
/**
 * The dry run's CRDs copy the Prometheus Operator's kinds into a group of this run's own:
 * CRDs are cluster-wide, and monitoring.coreos.com ones left on the shared test API server
 * would tell later operator tests that the Prometheus Operator is installed.
 */
const MONITORING_GROUP = `${uniqueName("parley-chart-mon")}.monitoring.parley.test`;
/** Metrics of other exporters that the dashboard reads, and who exports them. */
const EXTERNAL_METRICS: Record<string, string> = {
  kube_pod_container_status_restarts_total: "kube-state-metrics",
};
const ALL_ON = ["serviceMonitor", "podMonitor", "prometheusRule", "dashboard"].map((key) => `monitoring.${key}.enabled=true`).join(",");

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

function alertRules(): Rule[] {
  const file = parseYaml(readFileSync(join(chart, "monitoring/alerts.yaml"), "utf8")) as { groups: { rules: Rule[] }[] };
  return file.groups.flatMap((group) => group.rules);
}

interface Panel {
  title?: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

/** Every query of the dashboard: panel targets, and the metric selectors of its label_values() variables. */
function dashboardQueries(): { where: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(join(chart, "dashboards/parley.json"), "utf8")) as { panels: Panel[]; templating: { list: { name: string; query?: { query: string } | string }[] } };
  const panels = (list: Panel[]): Panel[] => list.flatMap((panel) => [panel, ...panels(panel.panels ?? [])]);
  const targets = panels(dashboard.panels).flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel ${panel.title ?? "?"}`, expr: target.expr })));
  const variables = dashboard.templating.list.flatMap((variable) => {
    const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
    const selector = /^label_values\((.+),\s*\w+\)$/.exec(query ?? "")?.[1];
    return selector === undefined ? [] : [{ where: `variable ${variable.name}`, expr: selector }];
  });
  return [...targets, ...variables];
}

/** The series names a registry's /metrics text can hold: each family, with _bucket, _sum and _count for histograms and summaries. */
async function exportedNames(registry: { metrics(): Promise<string> }): Promise<Set<string>> {
  const names = new Set<string>();
  for (const [, name = "", type] of (await registry.metrics()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === "histogram") ["_bucket", "_sum", "_count"].forEach((suffix) => names.add(name + suffix));
    if (type === "summary") ["_sum", "_count"].forEach((suffix) => names.add(name + suffix));
  }
  return names;
}

describe("the chart's alerts and dashboard", () => {
  let exported: Set<string>;

  beforeAll(async () => {
    // The registries every parley process and the operator serve on /metrics.
    exported = new Set([...(await exportedNames(new Metrics().registry)), ...(await exportedNames(new OperatorMetrics().registry)), ...Object.keys(EXTERNAL_METRICS)]);
  });

  it("are valid PromQL naming only metrics that Parley, its operator or kube-state-metrics export", () => {
    const queries = [...alertRules().map((rule) => ({ where: `alert ${rule.alert ?? rule.record ?? "?"}`, expr: rule.expr })), ...dashboardQueries().map((q) => ({ ...q, expr: withoutGrafanaVariables(q.expr) }))];
    expect(queries.length).toBeGreaterThan(20);
    const problems = queries.flatMap(({ where, expr }) => {
      const { names, errors } = readPromql(expr);
      return [
        ...errors.map((error) => `${where}: not PromQL at ${error}`),
        ...(names.length === 0 ? [`${where}: selects no metric`] : []),
        ...names.filter((name) => !exported.has(name)).map((name) => `${where}: ${name} is not exported`),
      ];
    });
    expect(problems).toEqual([]);
  });

  it("catch a metric the code does not export", () => {
    const { names } = readPromql("rate(parley_process_cpu_seconds_total[5m])");
    expect(names.filter((name) => !exported.has(name))).toEqual(["parley_process_cpu_seconds_total"]);
  });
});

describe("the chart's Prometheus Operator and Grafana objects", () => {
  const env = kubeTestEnv();
  const helm = (args: string[]) => run(env.helm, args, env.kubeconfig);
  const kubectl = (args: string[], input?: string) => run(env.kubectl, args, env.kubeconfig, input);

  afterAll(async () => {
    for (const crd of monitoringCrds()) await kubectl(["delete", "crd", crd.metadata.name, "--wait=false", "--ignore-not-found"]);
  });

  it("are off by default", async () => {
    const rendered = await helm(["template", "parley", chart]);
    expect(rendered.code, rendered.stderr).toBe(0);
    const kinds = parseAllDocuments(rendered.stdout).map((doc) => (doc.toJS() as { kind?: string } | null)?.kind);
    expect(kinds).not.toContain("ServiceMonitor");
    expect(kinds).not.toContain("PodMonitor");
    expect(kinds).not.toContain("PrometheusRule");
    expect(rendered.stdout).not.toContain("grafana_dashboard");
  });

  it("pass helm lint --strict when all are on", async () => {
    const lint = await helm(["lint", "--strict", chart, "--set", ALL_ON]);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
  });

  it("refuse a ServiceMonitor without the metrics Service, saying why", async () => {
    const rendered = await helm(["template", "parley", chart, "--set", "monitoring.serviceMonitor.enabled=true,metrics.service.enabled=false"]);
    expect(rendered.code).not.toBe(0);
    expect(rendered.stderr).toContain("monitoring.serviceMonitor.enabled needs metrics.service.enabled");
  });

  it("are accepted by the API server (server-side dry run, on minimal copies of the monitoring.coreos.com CRDs)", async () => {
    for (const crd of monitoringCrds()) {
      const created = await kubectl(["create", "-f", "-"], JSON.stringify(crd));
      expect(created.code, created.stderr).toBe(0);
      await crdEstablished(env, crd.metadata.name);
    }
    const templates = ["servicemonitor", "podmonitor", "prometheusrule", "dashboard-configmap"].flatMap((name) => ["--show-only", `templates/${name}.yaml`]);
    const rendered = await helm(["template", "parley", chart, "--namespace", "default", "--set", ALL_ON, ...templates]);
    expect(rendered.code, rendered.stderr).toBe(0);
    const kinds = parseAllDocuments(rendered.stdout).map((doc) => (doc.toJS() as { kind: string }).kind);
    expect(kinds.sort()).toEqual(["ConfigMap", "PodMonitor", "PrometheusRule", "ServiceMonitor"]);
    expect(rendered.stdout).toContain("apiVersion: monitoring.coreos.com/v1");
    const inOwnGroup = rendered.stdout.replaceAll("apiVersion: monitoring.coreos.com/v1", `apiVersion: ${MONITORING_GROUP}/v1`);
    const applied = await kubectl(["apply", "--dry-run=server", "-f", "-"], inOwnGroup);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`prometheusrule.${MONITORING_GROUP}/parley-operator created (server dry run)`);
  });
});

/**
 * The Prometheus Operator's ServiceMonitor, PodMonitor and PrometheusRule CRDs, cut down to
 * the fields the chart sets (and the operator's PodMonitor uses), with their types: enough
 * for the API server to refuse a misspelt or mistyped field, without vendoring the real ones.
 * In MONITORING_GROUP, not monitoring.coreos.com (see there).
 */
function monitoringCrds(): { metadata: { name: string } }[] {
  const str = { type: "string" };
  const labels = { type: "object", additionalProperties: str };
  const selector = { type: "object", properties: { matchLabels: labels }, required: ["matchLabels"] };
  const namespaceSelector = { type: "object", properties: { matchNames: { type: "array", items: str } } };
  const endpoint = { type: "object", properties: { port: str, path: str, interval: { type: "string", pattern: "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$" }, honorLabels: { type: "boolean" } } };
  const rule = {
    type: "object",
    properties: { alert: str, record: str, expr: { "x-kubernetes-int-or-string": true }, for: str, labels, annotations: labels },
    required: ["expr"],
  };
  const groups = { type: "array", items: { type: "object", properties: { name: str, interval: str, rules: { type: "array", items: rule } }, required: ["name", "rules"] } };
  const crd = (kind: string, plural: string, spec: Record<string, unknown>, required: string[]) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${MONITORING_GROUP}` },
    spec: {
      group: MONITORING_GROUP,
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      scope: "Namespaced",
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: spec, required } }, required: ["spec"] } },
        },
      ],
    },
  });
  return [
    crd("ServiceMonitor", "servicemonitors", { selector, namespaceSelector, endpoints: { type: "array", items: endpoint } }, ["selector", "endpoints"]),
    crd("PodMonitor", "podmonitors", { selector, namespaceSelector, podTargetLabels: { type: "array", items: str }, podMetricsEndpoints: { type: "array", items: endpoint } }, ["selector", "podMetricsEndpoints"]),
    crd("PrometheusRule", "prometheusrules", { groups }, ["groups"]),
  ];
}
