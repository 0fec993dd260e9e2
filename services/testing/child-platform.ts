import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../dist/services/cli/parley.js", import.meta.url));

export interface ChildPlatform {
  process: ChildProcess;
  websocketUrl: string;
  url: string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | NodeJS.Signals>;
}

/**
 * Runs the built `parley dev` as its own process, so a test can kill it as a crash would.
 * Resolves once it logs that it is listening.
 */
export async function startChildPlatform(dataDir: string, env: Record<string, string> = {}): Promise<ChildPlatform> {
  const child = spawn(process.execPath, [CLI, "dev", "--port", "0", "--data-dir", dataDir, "--log-level", "info"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => (code ?? signal) as number | NodeJS.Signals);
  const lines = createInterface({ input: child.stdout });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const listening = new Promise<{ url: string; websocket: string }>((resolve, reject) => {
    lines.on("line", (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string; websocket?: string };
        if (entry.msg === "parley dev is listening" && entry.url && entry.websocket) resolve({ url: entry.url, websocket: entry.websocket });
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      reject(new Error(`parley dev exited (${String(code)}) before listening: ${stderr}`));
    });
  });
  const { url, websocket } = await listening;
  return { process: child, url, websocketUrl: websocket, exited };
}
