import { parser } from "@prometheus-io/lezer-promql";

export interface PromqlReading {
  /** Every metric name the expression selects (`name{...}` and `{__name__="name"}`). */
  names: string[];
  /** Where the parser found no valid PromQL, as `offset: text`; empty when it is valid. */
  errors: string[];
}

/**
 * Grafana's variables made into what PromQL takes: a range ($__rate_interval, $__interval)
 * becomes 5m, any other $variable (inside label values) a plain word. Checks dashboards
 * with the same parser as rules.
 */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_)?interval|\$__range/g, "5m").replace(/\$\{?(\w+)\}?/g, "$1");
}

/** Reads a PromQL expression with Prometheus's own grammar (lezer-promql). */
export function readPromql(expr: string): PromqlReading {
  const tree = parser.parse(expr);
  const names = new Set<string>();
  const errors: string[] = [];
  const text = (from: number, to: number): string => expr.slice(from, to);
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        errors.push(`${node.from}: ${JSON.stringify(text(Math.max(0, node.from - 20), node.to + 20))}`);
        return;
      }
      if (node.name === "VectorSelector") {
        const identifier = node.node.getChild("Identifier");
        if (identifier) names.add(text(identifier.from, identifier.to));
      }
      if (node.name === "UnquotedLabelMatcher" || node.name === "QuotedLabelMatcher") {
        const label = node.node.getChild("LabelName");
        const value = node.node.getChild("StringLiteral");
        const exact = node.node.getChild("MatchOp")?.getChild("EqlSingle");
        if (label && value && exact && text(label.from, label.to) === "__name__") names.add(JSON.parse(text(value.from, value.to).replace(/^'|'$/g, '"')) as string);
      }
    },
  });
  return { names: [...names].sort(), errors };
}
