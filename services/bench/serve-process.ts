import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
// Types only: probe.js is loaded into the server children, never into the benchmark itself.
import type { ProbeReply, ProbeRequest } from "./probe.js";

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
        const entry = parseLogLine(line);
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

/**
 * The environment for a child: ours without PARLEY_* settings, PORT and NODE_OPTIONS, so
 * the figures do not depend on what happens to be set in the caller's shell.
 */
function childBaseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === "PORT" || name.startsWith("PARLEY_") || name === "NODE_OPTIONS") continue;
    env[name] = value;
  }
  return env;
}

function parseLogLine(line: string): LogLine | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}

// ---- /proc readings ----------------------------------------------------------------

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times (getconf CLK_TCK; 100 almost everywhere). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU time of a process (all its threads), in milliseconds; null if it is gone. */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / ticksPerSecond();
  } catch {
    return null;
  }
}

export function rssKiBOf(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Busy and total CPU time of the whole machine (all cores), in clock ticks, from /proc/stat. */
export function machineCpuTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.slice(0, 8).reduce((sum, v) => sum + v, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * The process listening on a local TCP port (from /proc/net/tcp{,6} and the processes'
 * socket links), or null when it cannot be found (another user's process, no /proc).
 */
export function pidListeningOn(port: number): number | null {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (local === undefined || fields[3] !== "0A") continue; // 0A: LISTEN
      if (parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port && fields[9] !== undefined) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        if (target.startsWith("socket:[") && inodes.has(target.slice(8, -1))) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}

/** CPU time (ms) of every process on the machine, by pid, with a short name from its command line. */
export function allProcessesCpuMs(): Map<number, { name: string; ms: number }> {
  const result = new Map<number, { name: string; ms: number }>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return result;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ms = cpuMsOf(pid);
    if (ms === null) continue;
    let name = "";
    try {
      name = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter((part) => part !== "").join(" ");
    } catch {
      // gone meanwhile
    }
    result.set(pid, { name: name.length > 100 ? name.slice(0, 100) + "…" : name, ms });
  }
  return result;
}
