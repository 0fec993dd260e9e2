import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../../dist/services/cli/parley.js", import.meta.url));
const LISTENING = new Set(["parley dev is listening", "parley service is listening"]);

export interface ChildPlatform {
  process: ChildProcess;
  /** http://host:port */
  url: string;
  /** ws://host:port/ws */
  websocketUrl: string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | NodeJS.Signals>;
}

/**
 * Runs the built `parley` CLI (`dev`, or `serve <service>`) as its own process, so a test
 * can kill it as a crash would. Resolves once it logs that it is listening.
 */
export async function startParleyProcess(args: readonly string[], env: Record<string, string> = {}, logFile?: string): Promise<ChildPlatform> {
  const child = spawn(process.execPath, [CLI, ...args, "--port", "0", "--log-level", "info"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => (code ?? signal) as number | NodeJS.Signals);
  const lines = createInterface({ input: child.stdout });
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    if (logFile !== undefined) appendFileSync(logFile, chunk);
  });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on("line", (line) => {
      output += line + "\n";
      // Kept for a post-mortem of a failed run: the process logs past its start.
      if (logFile !== undefined) appendFileSync(logFile, line + "\n");
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg !== undefined && LISTENING.has(entry.msg) && entry.url) resolve(entry.url);
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      reject(new Error(`parley ${args.join(" ")} exited (${String(code)}) before listening:\n${output.slice(-4000)}`));
    });
  });
  return { process: child, url, websocketUrl: `${url.replace(/^http/, "ws")}/ws`, exited };
}

/** `parley dev` on a data directory, in its own process. */
export function startChildPlatform(dataDir: string, env: Record<string, string> = {}): Promise<ChildPlatform> {
  return startParleyProcess(["dev", "--data-dir", dataDir], env);
}
