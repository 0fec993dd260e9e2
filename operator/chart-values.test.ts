import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { infraEndpoint } from "../services/testing/infra.js";
import { repositoryRoot } from "./tools/generate-crd.js";

/** The chart's values.schema.json as `helm lint --strict` and `helm template` apply it (helm of hack/servers/kube.sh). */
const CHART = join(repositoryRoot(), "charts/parley");

function helm(args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(infraEndpoint("PARLEY_TEST_HELM"), [...args], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, output: stdout + stderr });
    });
  });
}

describe("the chart's values", () => {
  it("lint clean with the defaults and with Kubernetes quantities", async () => {
    expect((await helm(["lint", "--strict", CHART])).code).toBe(0);
    const quantities = await helm(["lint", "--strict", CHART, "--set", "resources.requests.cpu=250m", "--set", "resources.requests.memory=1.5Gi", "--set", "resources.limits.cpu=2"]);
    expect(quantities.code, quantities.output).toBe(0);
  });

  it.each([
    ["resources.limits.memory=lots", "at '/resources/limits/memory': 'lots' does not match pattern"],
    ["resources.requests.cpu=-1", "at '/resources/requests/cpu'"],
    ["resources.limit.memory=1Gi", "additional properties 'limit' not allowed"],
    ["securityContext.privileged=true", "at '/securityContext/privileged': value must be false"],
    ["securityContext.allowPrivilegeEscalation=true", "at '/securityContext/allowPrivilegeEscalation': value must be false"],
    ["securityContext.runAsUser=0", "at '/securityContext/runAsUser': minimum: got 0, want 1"],
    ["securityContext.capabilities.add={SYS_ADMIN}", "at '/securityContext/capabilities/add'"],
    ["podSecurityContext.runAsNonRoot=false", "at '/podSecurityContext/runAsNonRoot': value must be true"],
    ["podSecurityContext.runAsUser=0", "at '/podSecurityContext/runAsUser': minimum: got 0, want 1"],
  ])("refuse %s, naming the value", async (value, message) => {
    for (const command of [
      ["lint", "--strict", CHART],
      ["template", "parley", CHART],
    ]) {
      const result = await helm([...command, "--set", value]);
      expect(result.code).not.toBe(0);
      expect(result.output).toContain(message);
    }
  });
});
