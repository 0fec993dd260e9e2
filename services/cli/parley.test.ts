import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { TokenAuthority } from "../auth/tokens.js";

// The built CLI (vitest's global setup builds it), run as a user runs it.
const CLI = fileURLToPath(new URL("../../dist/services/cli/parley.js", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "parley-cli-test-"));
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function parley(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? "", PARLEY_DATA_DIR: dataDir, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("parley", () => {
  it("prints its version", async () => {
    expect(await parley(["--version"])).toMatchObject({ code: 0, stdout: "0.1.0\n" });
  });

  it("lists every command and points to the configuration reference", async () => {
    const { code, stdout } = await parley(["--help"]);
    expect(code).toBe(0);
    for (const command of ["dev", "token", "connect", "serve", "operator"]) expect(stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    expect(stdout).toContain("docs/configuration.md");
  });

  it.each([[["token", "--help"]], [["help", "token"]]])("%j lists the environment variables of the token's settings", async (args) => {
    const { code, stdout } = await parley(args);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}PARLEY_JWT_SECRET {2}HS256 secret/m);
    expect(stdout).toMatch(/^ {2}PARLEY_DATA_DIR +directory .*\(default \.\/\.parley\)$/m);
    expect(stdout).toContain("--data-dir <path>");
    expect(stdout).toContain("docs/configuration.md");
    expect(stdout).not.toContain("PARLEY_KAFKA_BROKERS");
  });

  it("lists the back ends' variables for serve, and not for dev", async () => {
    const serve = await parley(["serve", "--help"]);
    expect(serve.stdout).toMatch(/^ {2}PARLEY_KAFKA_BROKERS /m);
    expect(serve.stdout).toMatch(/^ {2}PORT, PARLEY_PORT /m);
    expect(serve.stdout).not.toContain("PARLEY_DATA_DIR");
    const dev = await parley(["dev", "--help"]);
    expect(dev.stdout).toMatch(/^ {2}PARLEY_MAX_GROUP_MEMBERS /m);
    expect(dev.stdout).not.toContain("PARLEY_KAFKA_BROKERS");
  });

  it("says that the operator reads no settings", async () => {
    expect((await parley(["operator", "--help"])).stdout).toContain("This command reads none of the settings in docs/configuration.md.");
  });

  it("fails clearly on an unknown command", async () => {
    const { code, stderr } = await parley(["tokn", "alice"]);
    expect(code).toBe(1);
    expect(stderr).toContain("error: unknown command 'tokn'");
  });

  it("prints a token that the configured secret verifies", async () => {
    const secret = "s".repeat(32);
    const { code, stdout } = await parley(["token", "alice", "--ttl", "5m"], { PARLEY_JWT_SECRET: secret });
    expect(code).toBe(0);
    expect((await new TokenAuthority(secret).verify(stdout.trim())).userId).toBe("alice");
  });

  it("refuses an invalid user id with the command's help", async () => {
    const { code, stderr } = await parley(["token", "a/b"]);
    expect(code).toBe(1);
    expect(stderr).toContain("error: command-argument value 'a/b' is invalid for argument 'user'");
    expect(stderr).toContain("Usage: parley token");
  });

  it("exits with 2 on invalid configuration, hiding a secret", async () => {
    const { code, stderr } = await parley(["token", "alice"], { PARLEY_JWT_SECRET: "short-secret-value" });
    expect(code).toBe(2);
    expect(stderr).toContain("parley: invalid configuration:\n  - PARLEY_JWT_SECRET: must be at least 32 characters (got a value that is hidden)");
    expect(stderr).not.toContain("short-secret-value");
  });
});
