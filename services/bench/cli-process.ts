/**
 * One `parley` CLI child of a benchmark: `parley dev` on a fresh data directory (make
 * bench) or `parley serve <service>` as a container runs it (make bench-real), with the
 * benchmark's probe preloaded (heap, CPU and event-loop figures over IPC). CPU time and
 * RSS are read from /proc as well, which works even while the child's event loop is busy.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
// Types only: probe.js is loaded into the children, never into the benchmark itself.
import type { ProbeReply, ProbeRequest } from "./probe.js";
import { rssKiBOf } from "./process-stats.js";

const CLI_PATH = fileURLToPath(new URL("../cli/parley.js", import.meta.url));
/** The probe (probe.ts) a benchmark preloads into a Node.js server child, and its message type. */
export const PROBE_URL = new URL("./probe.js", import.meta.url).href;
// Not imported from probe.ts: importing it would install the probe in this process too.
export const PROBE_MESSAGE: ProbeRequest["type"] = "parley-bench-probe";
const DEV_LISTENING = "parley dev is listening";
const SERVE_LISTENING = "parley service is listening";

/** Settings every benchmark child gets: rate limits out of the way, room for many connections. */
export const RAISED_LIMITS: Readonly<Record<string, string>> = {
  PARLEY_FRAMES_PER_SECOND: "100000",
  PARLEY_FRAME_BURST: "100000",
  PARLEY_MAX_CONNECTIONS: "1000000",
};

/** Every child still running, so a timeout or a signal can kill them all at once. */
const live = new Set<CliProcess>();

/** Kills every child at once (SIGKILL) and removes their data directories. Synchronous. */
export function killAllCliProcesses(): void {
  for (const child of live) child.killNow();
}

export interface StartOptions {
  /** Name used in messages and reports, e.g. "throughput" or "gateway-a". */
  label: string;
  /** Settings and back-end endpoints, as environment variables (PARLEY_...). */
  env: Record<string, string>;
  startTimeoutMs: number;
  /** Extra Node.js flags, for investigations (--cpu-prof, --trace-gc). */
  nodeFlags?: readonly string[];
  /** Appends the child's stdout and stderr to this file. */
  logFile?: string;
}

export interface DevStartOptions extends StartOptions {
  /** The server's --log-level; default info. Above info the "listening" log line is not written, so the URL comes from the banner on stderr. */
  logLevel?: string;
}

export interface ServeStartOptions extends StartOptions {
  /** The service argument of `parley serve`: gateway, chat, groups, presence, assets. */
  service: string;
}

export interface StopResult {
  label: string;
  /** From SIGTERM to the process's exit. */
  ms: number;
  exit: string;
  /** It did not exit in time and was killed. */
  killed: boolean;
}

export interface ProbeOptions {
  /** A full GC first (the child needs --expose-gc: `parley dev` children have it). */
  gc?: boolean;
  /** Start a fresh event-loop delay histogram after answering. */
  resetLoopDelay?: boolean;
  timeoutMs?: number;
}

interface LogLine {
  level?: number;
  msg?: string;
  url?: string;
}

/** How a child says it listens: its HTTP URL from a stdout log entry, or from a stderr line. */
interface Readiness {
  /** The log message that carries the URL, for the timeout error. */
  message: string;
  fromLog: (entry: LogLine) => string | null;
  fromStderr?: (line: string) => string | null;
}

/** The environment for a child: ours without PARLEY_* settings, PORT and NODE_OPTIONS, so the figures do not depend on the caller's shell. */
function childBaseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === "PORT" || name.startsWith("PARLEY_") || name === "NODE_OPTIONS") continue;
    env[name] = value;
  }
  return env;
}

/** A JSON log line of a child (pino), or null when the line is not a JSON object. */
function parseLogLine(line: string): LogLine | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}

export class CliProcess {
  /** Log lines at warn or above, kept (the first 20) for the report. */
  readonly problems: string[] = [];
  warnCount = 0;
  errorCount = 0;
  /** Log lines per pino level (30 info, 40 warn, ...). */
  readonly linesByLevel = new Map<number, number>();
  /** http://host:port, once it listens. */
  url = "";
  private stderrTail = "";
  private nextProbeId = 1;
  private readonly probes = new Map<number, (reply: ProbeReply) => void>();
  private exitInfo: { code: number | null; signal: string | null } | null = null;
  private readonly exited: Promise<void>;
  private removed = false;

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
    readonly command: string[],
    /** `parley dev`'s data directory, removed when the child stops; null for `parley serve`. */
    readonly dataDir: string | null,
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

  /** `parley dev` on a free port and a fresh data directory, as an operator would run it. */
  static async dev(options: DevStartOptions): Promise<CliProcess> {
    const dataDir = await mkdtemp(join(tmpdir(), "parley-bench-"));
    const cli = ["dev", "--port", "0", "--data-dir", dataDir, "--log-level", options.logLevel ?? "info"];
    // The banner `parley dev` writes to stderr at any log level: the URL when the log line is filtered out.
    const banner = /^\s*Parley is running at (http\S+)\s*$/;
    return CliProcess.spawnReady(options, ["--expose-gc"], cli, dataDir, {
      message: DEV_LISTENING,
      fromLog: (entry) => (entry.msg === DEV_LISTENING && typeof entry.url === "string" ? entry.url : null),
      fromStderr: (line) => banner.exec(line)?.[1] ?? null,
    });
  }

  /** `parley serve <service>`, as a container runs it. */
  static serve(options: ServeStartOptions): Promise<CliProcess> {
    const cli = ["serve", options.service, "--port", "0", "--log-level", "info"];
    return CliProcess.spawnReady(options, [], cli, null, {
      message: SERVE_LISTENING,
      fromLog: (entry) => (entry.msg === SERVE_LISTENING && typeof entry.url === "string" ? entry.url : null),
    });
  }

  /** Starts the child and resolves once it says it is listening. */
  private static async spawnReady(options: StartOptions, nodeFlags: string[], cli: string[], dataDir: string | null, ready: Readiness): Promise<CliProcess> {
    const args = [...nodeFlags, ...(options.nodeFlags ?? []), "--import", PROBE_URL, CLI_PATH, ...cli];
    const child = spawn(process.execPath, args, {
      env: { ...childBaseEnv(), ...options.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const started = new CliProcess(options.label, child, [process.execPath, ...args], dataDir);
    live.add(started);
    if (options.logFile !== undefined) {
      const log = createWriteStream(options.logFile, { flags: "a" });
      log.on("error", () => undefined);
      log.write(`--- ${options.label}, pid ${String(child.pid)}: ${started.command.join(" ")}\n`);
      child.stdout?.on("data", (chunk: Buffer) => log.write(chunk));
      child.stderr?.on("data", (chunk: string) => log.write(chunk));
      child.once("exit", () => log.end());
    }

    const listening = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${options.label} did not say "${ready.message}" within ${options.startTimeoutMs} ms; stderr:\n${started.stderrTail}`));
      }, options.startTimeoutMs);
      const found = (url: string | null): void => {
        if (url === null) return;
        clearTimeout(timer);
        resolve(url);
      };
      void started.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${options.label} exited before listening (${started.describeExit()}); stderr:\n${started.stderrTail}`));
      });
      createInterface({ input: child.stdout ?? process.stdin }).on("line", (line) => {
        const entry = parseLogLine(line);
        if (entry === null) return;
        found(ready.fromLog(entry));
        started.noteLog(entry, line);
      });
      // Not closed once read: closing a readline interface pauses its stream.
      const fromStderr = ready.fromStderr;
      if (fromStderr) {
        createInterface({ input: child.stderr ?? process.stdin }).on("line", (line) => {
          found(fromStderr(line));
        });
      }
    });
    try {
      started.url = await listening;
      return started;
    } catch (error) {
      started.killNow();
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** ws://host:port/ws (meaningful for `parley dev` and gateways). */
  get websocketUrl(): string {
    return `${this.url.replace(/^http/, "ws")}/ws`;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  describeExit(): string {
    if (this.exitInfo === null) return "running";
    return this.exitInfo.signal !== null ? `signal ${this.exitInfo.signal}` : `exit code ${String(this.exitInfo.code)}`;
  }

  /** Tokens a `parley dev` child accepts: signed with the dev secret it created in its data directory. */
  tokens(): TokenAuthority {
    if (this.dataDir === null) throw new Error(`${this.label} has no data directory: its tokens are signed with PARLEY_JWT_SECRET`);
    return new TokenAuthority(loadOrCreateDevSecret(this.dataDir));
  }

  /** VmRSS from /proc, in KiB; null where /proc is unavailable. */
  rssKiB(): number | null {
    return rssKiBOf(this.pid);
  }

  /** Heap, CPU and event-loop figures from inside the child. */
  probe(options: ProbeOptions = {}): Promise<ProbeReply> {
    const { gc = false, resetLoopDelay = false, timeoutMs = 10_000 } = options;
    const id = this.nextProbeId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.probes.delete(id);
        reject(new Error(`${this.label} did not answer a probe within ${timeoutMs} ms`));
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

  /** SIGTERM (a graceful stop, as Kubernetes does it), then SIGKILL after `timeoutMs`; then the data directory goes. */
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
    const ms = Math.round(performance.now() - started);
    if (this.dataDir !== null && !this.removed) {
      this.removed = true;
      await rm(this.dataDir, { recursive: true, force: true });
    }
    return { label: this.label, ms, exit: this.describeExit(), killed };
  }

  /** Kills the child at once and removes its data directory, synchronously: for timeouts and signals. */
  killNow(): void {
    if (this.running) this.child.kill("SIGKILL");
    live.delete(this);
    if (this.dataDir !== null && !this.removed) {
      this.removed = true;
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  private noteLog(entry: LogLine, line: string): void {
    const level = entry.level ?? 0;
    this.linesByLevel.set(level, (this.linesByLevel.get(level) ?? 0) + 1);
    if (level < 40) return;
    if (level >= 50) this.errorCount += 1;
    else this.warnCount += 1;
    if (this.problems.length < 20) this.problems.push(line.length > 500 ? line.slice(0, 500) + "…" : line);
  }
}
