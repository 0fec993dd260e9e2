import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The built CLI (vitest's global setup builds it), run as a user runs it.
const CLI = fileURLToPath(new URL("../../dist/services/cli/parley.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "parley-operator-cli-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function operator(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // No in-cluster variables and no ~/.kube/config: only the file given counts.
    execFile(process.execPath, [CLI, "operator", "--metrics-port=0", ...args], { env: { PATH: process.env.PATH ?? "", HOME: dir } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("parley operator with bad credentials", () => {
  it("names a missing kubeconfig file in one line and exits 2", async () => {
    const result = await operator(["--kubeconfig", join(dir, "nonexistent")]);
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toBe(`parley: cannot load kubeconfig ${join(dir, "nonexistent")}: no such file\n`);
  });

  it("names a kubeconfig that is not YAML, and one with no cluster, in one line each", async () => {
    const garbage = join(dir, "garbage");
    writeFileSync(garbage, "{ this is: [not yaml");
    const notYaml = await operator(["--kubeconfig", garbage]);
    expect(notYaml.code).toBe(2);
    expect(notYaml.stderr).toMatch(new RegExp(`^parley: cannot load kubeconfig ${garbage}: .+\\n$`));
    const empty = join(dir, "empty");
    writeFileSync(empty, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
    const noCluster = await operator(["--kubeconfig", empty]);
    expect(noCluster).toMatchObject({ code: 2, stderr: `parley: kubeconfig ${empty} names no cluster for its current context (none set)\n` });
  });
});
