import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
// Types only: probe.js is loaded into the server child, never into the benchmark itself.
import type { ProbeReply, ProbeRequest } from "./probe.js";
import { childBaseEnv, parseLogLine } from "./child-process.js";
import { rssKiBOf } from "./process-stats.js";

const CLI_PATH = fileURLToPath(new URL("../cli/parley.js", import.meta.url));
const PROBE_URL = new URL("./probe.js", import.meta.url).href;
const PROBE_MESSAGE: ProbeRequest["type"] = "parley-bench-probe";

/** Every server child still running, so a timeout or a signal can kill them all at once. */
const live = new Set<ServerProcess>();

/** Kills every server child at once (SIGKILL) and removes their data directories. Synchronous. */
export function killAllServers(): void {
  for (const server of live) server.killNow();
}

export interface StartOptions {
  /** Name used in messages. */
  label: string;
  /** Settings for the server, as environment variables (PARLEY_...). */
  env: Record<string, string>;
  startTimeoutMs: number;
  /** Extra Node.js flags for the server, for investigations (--cpu-prof, --trace-gc). */
  nodeFlags?: readonly string[];
  /** Appends the server's stdout and stderr to this file. */
  logFile?: string;
  /** The server's --log-level; default info. Above info the "listening" log line is not written, so the URLs come from the banner on stderr. */
  logLevel?: string;
}

export interface StopResult {
  /** From SIGTERM to the process's exit. */
  ms: number;
  code: number | null;
  signal: string | null;
  /** It did not exit in time and was killed. */
  killed: boolean;
}

interface LogLine {
  level?: number;
  msg?: string;
  websocket?: string;
  url?: string;
}

/**
 * A `parley dev` child on a free port and a fresh data directory, as an operator would
 * run it, plus a small probe preloaded for heap, CPU and event-loop figures. Its RSS is
 * read from /proc.
 */
export class ServerProcess {
  /** Log lines at warn or above, kept (the first 20) for the report. */
  readonly problems: string[] = [];
  warnCount = 0;
  errorCount = 0;
  private stderrTail = "";
  private nextProbeId = 1;
  private readonly probes = new Map<number, (reply: ProbeReply) => void>();
  private exitInfo: { code: number | null; signal: string | null } | null = null;
  private readonly exited: Promise<void>;
  private removed = false;

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
    readonly dataDir: string,
    readonly command: string[],
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        resolve();
      });
    });
    child.on("message", (message: unknown) => {
      if (typeof message !== "object" || message === null || (message as { type?: unknown }).type !== PROBE_MESSAGE) return;
      const reply = message as ProbeReply;
      this.probes.get(reply.id)?.(reply);
      this.probes.delete(reply.id);
    });
    // Without a listener an IPC error (the child died mid-send) would be thrown.
    child.on("error", () => undefined);
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
    });
  }

  static async start(options: StartOptions): Promise<{ server: ServerProcess; websocketUrl: string; httpUrl: string }> {
    const dataDir = await mkdtemp(join(tmpdir(), "parley-bench-"));
    const args = ["--expose-gc", ...(options.nodeFlags ?? []), "--import", PROBE_URL, CLI_PATH, "dev", "--port", "0", "--data-dir", dataDir, "--log-level", options.logLevel ?? "info"];
    const child = spawn(process.execPath, args, {
      env: { ...childBaseEnv(), ...options.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const server = new ServerProcess(options.label, child, dataDir, [process.execPath, ...args]);
    live.add(server);
    if (options.logFile !== undefined) {
      const log = createWriteStream(options.logFile, { flags: "a" });
      log.on("error", () => undefined);
      log.write(`--- ${options.label} server, pid ${String(child.pid)}: ${server.command.join(" ")}\n`);
      child.stdout?.on("data", (chunk: Buffer) => log.write(chunk));
      child.stderr?.on("data", (chunk: string) => log.write(chunk));
      child.once("exit", () => log.end());
    }

    const listening = new Promise<{ websocketUrl: string; httpUrl: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${options.label} server did not say "parley dev is listening" (log or stderr banner) within ${options.startTimeoutMs} ms`));
      }, options.startTimeoutMs);
      void server.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${options.label} server exited before listening (${server.describeExit()}); stderr:\n${server.stderrTail}`));
      });
      const lines = createInterface({ input: child.stdout ?? process.stdin });
      lines.on("line", (line) => {
        const entry: LogLine | null = parseLogLine(line);
        if (entry === null) return;
        if (entry.msg === "parley dev is listening" && typeof entry.websocket === "string" && typeof entry.url === "string") {
          clearTimeout(timer);
          resolve({ websocketUrl: entry.websocket, httpUrl: entry.url });
        }
        server.noteLog(entry, line);
      });
      // The banner `parley dev` writes to stderr at any log level: the URLs when the log line is
      // filtered out. (Not closed once read: closing a readline interface pauses its stream.)
      const banner: { httpUrl?: string; websocketUrl?: string } = {};
      const stderrLines = createInterface({ input: child.stderr ?? process.stdin });
      stderrLines.on("line", (line) => {
        const http = /^\s*Parley is running at (http\S+)\s*$/.exec(line)?.[1];
        const websocket = /^\s*WebSocket endpoint:\s+(ws\S+)\s*$/.exec(line)?.[1];
        if (http !== undefined) banner.httpUrl = http;
        if (websocket !== undefined) banner.websocketUrl = websocket;
        if (banner.httpUrl !== undefined && banner.websocketUrl !== undefined) {
          clearTimeout(timer);
          resolve({ websocketUrl: banner.websocketUrl, httpUrl: banner.httpUrl });
        }
      });
    });
    try {
      return { server, ...(await listening) };
    } catch (error) {
      server.killNow();
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Tokens the server accepts: signed with the data directory's dev secret it created at start. */
  tokens(): TokenAuthority {
    return new TokenAuthority(loadOrCreateDevSecret(this.dataDir));
  }

  /** VmRSS of the server process from /proc, in KiB; null where /proc is unavailable. */
  rssKiB(): number | null {
    return rssKiBOf(this.pid);
  }

  /** Heap, CPU and event-loop figures from inside the server, after a full GC when `gc`. */
  probe(gc: boolean, resetLoopDelay = false, timeoutMs = 10_000): Promise<ProbeReply> {
    const id = this.nextProbeId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.probes.delete(id);
        reject(new Error(`${this.label} server did not answer a probe within ${timeoutMs} ms`));
      }, timeoutMs);
      this.probes.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      const request: ProbeRequest = { type: PROBE_MESSAGE, id, gc, resetLoopDelay };
      this.child.send(request, (error) => {
        if (error) {
          clearTimeout(timer);
          this.probes.delete(id);
          reject(error);
        }
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  describeExit(): string {
    if (this.exitInfo === null) return "running";
    return this.exitInfo.signal !== null ? `signal ${this.exitInfo.signal}` : `exit code ${String(this.exitInfo.code)}`;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; then the data directory is removed. */
  async stop(timeoutMs: number): Promise<StopResult> {
    const started = performance.now();
    let killed = false;
    if (this.running) {
      this.child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([this.exited, deadline]);
      clearTimeout(timer);
      if (this.exitInfo === null) {
        killed = true;
        this.child.kill("SIGKILL");
        await this.exited;
      }
    }
    const ms = performance.now() - started;
    if (!this.removed) {
      this.removed = true;
      await rm(this.dataDir, { recursive: true, force: true });
    }
    return { ms, code: this.exitInfo?.code ?? null, signal: this.exitInfo?.signal ?? null, killed };
  }

  /** Kills the child at once and removes its data directory, synchronously: for timeouts and signals. */
  killNow(): void {
    if (this.running) this.child.kill("SIGKILL");
    live.delete(this);
    if (!this.removed) {
      this.removed = true;
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  private noteLog(entry: LogLine, line: string): void {
    const level = entry.level ?? 0;
    if (level < 40) return;
    if (level >= 50) this.errorCount += 1;
    else this.warnCount += 1;
    if (this.problems.length < 20) this.problems.push(line.length > 500 ? line.slice(0, 500) + "…" : line);
  }
}
