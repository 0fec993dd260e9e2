import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SETTINGS, type SettingName } from "../runtime/config.js";
import { acceptedValues, configurationDoc } from "./configuration-doc.js";
import { CONFIGURATION_DOC, repositoryRoot } from "./generate-config-docs.js";

describe("docs/configuration.md", () => {
  it("is what the generator writes: run `npm run generate:config-docs` after changing a setting or a command", () => {
    const committed = readFileSync(join(repositoryRoot(), CONFIGURATION_DOC), "utf8");
    expect(committed, `${CONFIGURATION_DOC} is stale: run npm run generate:config-docs`).toBe(configurationDoc());
  });

  it("has a row for every setting, with its variables and default", () => {
    const doc = configurationDoc();
    for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
      const env = typeof setting.env === "string" ? [setting.env] : setting.env;
      const fallback = setting.default === undefined ? "unset" : `\`${String(setting.default)}\``;
      expect(doc, name).toContain(`| ${name} | ${env.map((e) => `\`${e}\``).join(", ")} | `);
      expect(doc, name).toMatch(new RegExp(`^\\| ${name} \\|[^|]+\\|[^|]+\\| ${fallback.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\|`, "m"));
    }
  });

  it("names the commands that read each setting", () => {
    const row = (name: string): string => configurationDoc().split("\n").find((line) => line.startsWith(`| ${name} |`)) ?? "";
    expect(row("dataDir")).toContain("| `dev`, `token`, `connect` |");
    expect(row("kafkaBrokers")).toContain("| `serve` |");
    expect(row("jwtSecret")).toContain("| `dev`, `token`, `connect`, `smoke`, `serve` |");
  });

  it("states accepted values as the loader checks them", () => {
    expect(acceptedValues("port")).toBe("an integer, 0 to 65535");
    expect(acceptedValues("framesPerSecond")).toBe("a number above 0, at most 100000");
    expect(acceptedValues("sendBufferBytes")).toBe("an integer, at least 16384");
    expect(acceptedValues("jwtSecret")).toBe("at least 32 characters");
    expect(acceptedValues("cassandraConsistency")).toContain("one of `LOCAL_QUORUM`, `QUORUM`");
  });
});
