import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generatedFiles, repositoryRoot } from "../../tools/generate-crd.js";
import { messagingClusterCrd, specSchema } from "./messagingcluster.js";
import { EXTRA_SETTINGS, MANAGED_SETTINGS, settingProblems } from "./settings.js";

interface Node {
  type?: string;
  description?: string;
  properties?: Record<string, Node>;
  items?: Node;
  additionalProperties?: Node;
  "x-kubernetes-int-or-string"?: boolean;
}

/** Every path below `node` that has no description (kubectl explain would show nothing). */
function undescribed(node: Node, path: string): string[] {
  const missing = node.description === undefined || node.description === "" ? [path] : [];
  for (const [key, child] of Object.entries(node.properties ?? {})) missing.push(...undescribed(child, `${path}.${key}`));
  if (node.items) missing.push(...undescribed(node.items, `${path}[]`));
  if (node.additionalProperties) missing.push(...undescribed(node.additionalProperties, `${path}{}`));
  return missing;
}

/** Paths without a type (a structural schema needs one everywhere, int-or-string aside). */
function untyped(node: Node, path: string): string[] {
  const missing = node.type === undefined && node["x-kubernetes-int-or-string"] !== true ? [path] : [];
  for (const [key, child] of Object.entries(node.properties ?? {})) missing.push(...untyped(child, `${path}.${key}`));
  if (node.items) missing.push(...untyped(node.items, `${path}[]`));
  if (node.additionalProperties) missing.push(...untyped(node.additionalProperties, `${path}{}`));
  return missing;
}

describe("the MessagingCluster CRD", () => {
  it("is what the generator writes: run `npm run generate` after changing the API or the RBAC list", () => {
    const root = repositoryRoot();
    for (const [path, content] of generatedFiles()) {
      expect(readFileSync(join(root, path), "utf8"), `${path} is stale: run npm run generate`).toBe(content);
    }
  });

  it("describes every field and is structural", () => {
    expect(undescribed(specSchema as Node, "spec")).toEqual([]);
    const crd = messagingClusterCrd() as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } };
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
    expect(schema).toBeDefined();
    expect(untyped(schema as Node, "")).toEqual([]);
  });

  it("has the scale subresource on the gateway replicas", () => {
    const crd = messagingClusterCrd() as { spec: { versions: { subresources: unknown }[] } };
    expect(crd.spec.versions[0]?.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: ".spec.gateway.replicas", statusReplicasPath: ".status.gateway.replicas", labelSelectorPath: ".status.gateway.selector" },
    });
  });
});

describe("extra settings", () => {
  it("allow only settings the operator does not set, and never secrets", () => {
    expect(EXTRA_SETTINGS.has("PARLEY_MAX_CONNECTIONS")).toBe(true);
    expect(EXTRA_SETTINGS.has("PARLEY_KAFKA_BROKERS")).toBe(false);
    expect(EXTRA_SETTINGS.has("PARLEY_JWT_SECRET")).toBe(false);
    expect(EXTRA_SETTINGS.has("PORT")).toBe(false);
    expect([...EXTRA_SETTINGS.values()].some((name) => (MANAGED_SETTINGS as readonly string[]).includes(name))).toBe(false);
  });

  it("check values against the settings table", () => {
    expect(settingProblems({ PARLEY_MAX_CONNECTIONS: "5000", PARLEY_LOG_LEVEL: "debug" }, "spec.gateway.settings")).toEqual([]);
    const problems = settingProblems({ PARLEY_MAX_CONNECTIONS: "zero", PARLEY_CLUSTER: "x" }, "spec.gateway.settings");
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^spec\.gateway\.settings\.PARLEY_MAX_CONNECTIONS: .*\(got "zero"\)$/);
    expect(problems[1]).toMatch(/PARLEY_CLUSTER: not a setting a MessagingCluster may set/);
  });
});
