import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repositoryRoot } from "./tools/generate-crd.js";
import { OPERATOR_VERSION } from "./version.js";

describe("the operator's version", () => {
  it("is the package's version and the chart's appVersion, so the default image tag is the image the chart installs", () => {
    const root = repositoryRoot();
    expect((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version).toBe(OPERATOR_VERSION);
    expect((parse(readFileSync(join(root, "charts/parley/Chart.yaml"), "utf8")) as { appVersion: string }).appVersion).toBe(OPERATOR_VERSION);
  });
});
