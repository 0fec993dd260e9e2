import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenAuthority } from "../auth/tokens.js";
import { startChildPlatform, type ChildPlatform } from "./support/child-platform.js";

/** `parley smoke` against `parley dev` in its own process, as the kind script runs it against a cluster. */
const CLI = fileURLToPath(new URL("../../dist/services/cli/parley.js", import.meta.url));
const jwtSecret = `smoke-test-secret-${randomBytes(16).toString("hex")}`;
let dataDir: string;
let platform: ChildPlatform;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "parley-smoke-"));
  platform = await startChildPlatform(dataDir, { PARLEY_JWT_SECRET: jwtSecret });
});

afterAll(async () => {
  platform.process.kill("SIGTERM");
  await platform.exited;
  await rm(dataDir, { recursive: true, force: true });
});

function smoke(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  // Only the environment a test gives decides whether the secret is there.
  const inherited = { ...process.env };
  delete inherited.PARLEY_JWT_SECRET;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "smoke", ...args], { env: { ...inherited, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

describe("parley smoke", () => {
  it("exchanges 1:1 and group messages and round-trips an asset, then says ok in one line and exits 0", async () => {
    const result = await smoke(["--url", platform.websocketUrl], { PARLEY_JWT_SECRET: jwtSecret });
    expect(result.stdout).toMatch(/^parley smoke: ok in \d+ ms \(tokens \d+ ms, connect \d+ ms, 1:1 \d+ ms, group \d+ ms, asset \d+ ms\)\n$/);
    expect(result.code).toBe(0);
  });

  it("takes two users' tokens instead of the secret", async () => {
    const tokens = new TokenAuthority(jwtSecret);
    const result = await smoke(["--url", platform.websocketUrl, "--token", await tokens.issue("smoke-ann", 600), "--token", await tokens.issue("smoke-ben", 600)]);
    expect(result.stdout).toMatch(/^parley smoke: ok in /);
    expect(result.code).toBe(0);
  });

  it("fails with exit code 1 at connect when a token is not accepted", async () => {
    const forged = await new TokenAuthority("some-other-secret-of-at-least-32-characters").issue("smoke-eve", 600);
    const result = await smoke(["--url", platform.websocketUrl, "--token", forged, "--token", forged]);
    expect(result.stdout).toMatch(/^parley smoke: FAILED at connect: .*401/);
    expect(result.stdout.trim().split("\n")).toHaveLength(1);
    expect(result.code).toBe(1);
  });

  it("fails with exit code 1 at connect when the server cannot be reached", async () => {
    const result = await smoke(["--url", "ws://127.0.0.1:9/ws", "--token", "a", "--token", "b"]);
    expect(result.stdout).toMatch(/^parley smoke: FAILED at connect: .*ECONNREFUSED/);
    expect(result.code).toBe(1);
  });

  it("fails with exit code 1 when it has no way to get two users' tokens", async () => {
    const result = await smoke(["--url", platform.websocketUrl, "--token", "only-one"]);
    expect(result.stdout).toBe("parley smoke: FAILED at tokens: give --token twice, once for each of two users\n");
    expect(result.code).toBe(1);
  });
});
