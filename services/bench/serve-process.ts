import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
// Types only: probe.js is loaded into the server children, never into the benchmark itself.
import type { ProbeReply, ProbeRequest } from "./probe.js";
import { childBaseEnv, parseLogLine } from "./child-process.js";
import { rssKiBOf } from "./process-stats.js";

const CLI_PATH = fileURLToPath(new URL("../cli/parley.js", import.meta.url));
const PROBE_URL = new URL("./probe.js", import.meta.url).href;
const PROBE_MESSAGE: ProbeRequest["type"] = "parley-bench-probe";
const LISTENING = "parley service is listening";

/** Every `parley serve` child still running, so a timeout or a signal can kill them all at once. */
const live = new Set<ServeProcess>();

/** Kills every `parley serve` child at once (SIGKILL). Synchronous. */
export function killAllServeProcesses(): void {
  for (const server of live) server.killNow();
}

export interface ServeStartOptions {
  /** The service argument of `parley serve`: gateway, chat, groups, presence, assets. */
  service: string;
  /** Name used in messages and reports, e.g. "gateway-a". */
  label: string;
  /** Settings and back-end endpoints, as environment variables (PARLEY_...). */
  env: Record<string, string>;
  startTimeoutMs: number;
  /** Extra Node.js flags, for investigations (--cpu-prof, --trace-gc). */
  nodeFlags?: readonly string[];
  /** Appends the child's stdout and stderr to this file. */
  logFile?: string;
}

export interface ServeStopResult {
  label: string;
  /** From SIGTERM to the process's exit. */
  ms: number;
  exit: string;
  /** It did not exit in time and was killed. */
  killed: boolean;
}

interface LogLine {
  level?: number;
  msg?: string;
  url?: string;
}

/**
 * One `parley serve <service>` child, as a container runs it, with the benchmark's probe
 * preloaded (heap, CPU and event-loop figures over IPC). CPU time and RSS are read from
 * /proc as well, which works even while the child's event loop is busy.
 */
export class ServeProcess {
  /** Log lines at warn or above, kept (the first 20) for the report. */
  readonly problems: string[] = [];
  warnCount = 0;
  errorCount = 0;
  /** Log lines per pino level (30 info, 40 warn, ...). */
  readonly linesByLevel = new Map<number, number>();
  url = "";
  private stderrTail = "";
  private nextProbeId = 1;
  private readonly probes = new Map<number, (reply: ProbeReply) => void>();
  private exitInfo: { code: number | null; signal: string | null } | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly label: string,
    readonly service: string,
    readonly child: ChildProcess,
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

  /** Starts the child and resolves once it logs that it is listening. */
  static async start(options: ServeStartOptions): Promise<ServeProcess> {
    const args = [...(options.nodeFlags ?? []), "--import", PROBE_URL, CLI_PATH, "serve", options.service, "--port", "0", "--log-level", "info"];
    const child = spawn(process.execPath, args, {
      env: { ...childBaseEnv(), ...options.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const server = new ServeProcess(options.label, options.service, child, [process.execPath, ...args]);
    live.add(server);
    if (options.logFile !== undefined) {
      const log = createWriteStream(options.logFile, { flags: "a" });
      log.on("error", () => undefined);
      log.write(`--- ${options.label}, pid ${String(child.pid)}: ${server.command.join(" ")}\n`);
      child.stdout?.on("data", (chunk: Buffer) => log.write(chunk));
      child.stderr?.on("data", (chunk: string) => log.write(chunk));
      child.once("exit", () => log.end());
    }

    const listening = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${options.label} did not log "${LISTENING}" within ${options.startTimeoutMs} ms; stderr:\n${server.stderrTail}`));
      }, options.startTimeoutMs);
      void server.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${options.label} exited before listening (${server.describeExit()}); stderr:\n${server.stderrTail}`));
      });
      const lines = createInterface({ input: child.stdout ?? process.stdin });
      lines.on("line", (line) => {
        const entry: LogLine | null = parseLogLine(line);
        if (entry === null) return;
        if (entry.msg === LISTENING && typeof entry.url === "string") {
          clearTimeout(timer);
          resolve(entry.url);
        }
        server.noteLog(entry, line);
      });
    });
    try {
      server.url = await listening;
      return server;
    } catch (error) {
      server.killNow();
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** ws://host:port/ws (meaningful for gateways). */
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

  /** VmRSS from /proc, in KiB; null where /proc is unavailable. */
  rssKiB(): number | null {
    return rssKiBOf(this.pid);
  }

  /** Heap, CPU and event-loop figures from inside the child. */
  probe(resetLoopDelay = false, timeoutMs = 10_000): Promise<ProbeReply> {
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
      const request: ProbeRequest = { type: PROBE_MESSAGE, id, gc: false, resetLoopDelay };
      this.child.send(request, (error) => {
        if (error) {
          clearTimeout(timer);
          this.probes.delete(id);
          reject(error);
        }
      });
    });
  }

  /** SIGTERM (a graceful stop, as Kubernetes does it), then SIGKILL after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<ServeStopResult> {
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
    return { label: this.label, ms: Math.round(performance.now() - started), exit: this.describeExit(), killed };
  }

  /** Kills the child at once: for timeouts and signals. */
  killNow(): void {
    if (this.running) this.child.kill("SIGKILL");
    live.delete(this);
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
