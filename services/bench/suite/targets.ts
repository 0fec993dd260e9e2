/**
 * The servers the suite compares, behind one interface: Parley (`parley dev`, the embedded
 * back ends, data on disk) and the bare `ws` baseline (baseline-ws-server.ts). The clients
 * are raw `ws` sockets for both, speaking each server's frames, so the client side costs
 * the same whichever server it measures and the figures differ only by the server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { TokenAuthority } from "../../auth/tokens.js";
import { PROTOCOL_SUBPROTOCOL } from "../../protocol/frames.js";
import { CliProcess, PROBE_MESSAGE, PROBE_URL, RAISED_LIMITS } from "../cli-process.js";
import { cpuMsOf, rssKiBOf } from "../process-stats.js";
import type { ProbeReply, ProbeRequest } from "../probe.js";
import { pinToCores } from "./cores.js";

export type TargetName = "parley" | "ws" | "centrifugo";

/** One connection of the driver: raw text frames in and out. */
export interface DriverSocket {
  readonly socket: WebSocket;
  onText(handler: (text: string) => void): void;
  send(text: string): void;
}

export interface Target {
  readonly name: TargetName;
  readonly pid: number;
  cpuMs(): number;
  rssKiB(): number | null;
  /**
   * A full garbage collection in the server, where it can be asked for (the two Node.js
   * servers); Centrifugo's Go runtime collects on its own. Before a memory reading, so the
   * reading is what the server holds, not when its collector last ran.
   */
  collectGarbage(): Promise<void>;
  /** Opens a connection for `user`, ready for frames (Parley: its hello has arrived). */
  connect(user: string, room?: string): Promise<DriverSocket>;
  /** A 1:1 message to `to`, numbered `n` (its clientMessageId is `m<n>`). */
  directFrame(to: string, n: number, text: string): string;
  /** A message to the room or group, numbered `n`. */
  roomFrame(room: string, n: number, text: string): string;
  /** The number of the send a frame acknowledges, or null for any other frame. */
  ackOf(text: string): number | null;
  /** Makes a room (Parley: a group) of the given members, `owner` first; resolves with its id. */
  makeRoom(owner: DriverSocket, members: readonly string[], name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The number of the message a delivered frame carries (both servers carry `"clientMessageId":"m<n>"`). */
export function deliveredNumbers(text: string): number[] {
  const numbers: number[] = [];
  for (const match of text.matchAll(/"clientMessageId":"m(\d+)"/g)) numbers.push(Number(match[1]));
  return numbers;
}

function driverSocket(socket: WebSocket): DriverSocket {
  return {
    socket,
    onText: (handler) => {
      socket.on("message", (data: Buffer) => {
        handler(data.toString());
      });
    },
    send: (text) => {
      socket.send(text);
    },
  };
}

function opened(socket: WebSocket, firstFrame: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      socket.terminate();
      reject(error);
    };
    socket.once("error", fail);
    socket.once("unexpected-response", (_request, response) => {
      fail(new Error(`upgrade refused: HTTP ${String(response.statusCode)}`));
    });
    const ready = (): void => {
      socket.off("error", fail);
      socket.on("error", () => undefined);
      resolve(socket);
    };
    if (firstFrame) socket.once("message", ready);
    else socket.once("open", ready);
  });
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export async function startParley(serverCores: string, extraEnv: Record<string, string> = {}): Promise<Target> {
  const server = await CliProcess.dev({
    label: "parley",
    env: { ...RAISED_LIMITS, PARLEY_MAX_GROUP_MEMBERS: "20000", PARLEY_SHUTDOWN_GRACE_MS: "2000", ...extraEnv },
    startTimeoutMs: START_TIMEOUT_MS,
    logLevel: "warn",
  });
  await pinToCores(server.pid, serverCores);
  const tokens: TokenAuthority = server.tokens();
  const url = server.websocketUrl;
  let requests = 0;
  return {
    name: "parley",
    pid: server.pid,
    cpuMs: () => cpuMsOf(server.pid) ?? 0,
    rssKiB: () => rssKiBOf(server.pid),
    collectGarbage: async () => {
      await server.probe({ gc: true });
    },
    connect: async (user) => {
      const token = await tokens.issue(user, 3600);
      const socket = new WebSocket(`${url}?device=bench`, [PROTOCOL_SUBPROTOCOL], { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
      return driverSocket(await opened(socket, true));
    },
    directFrame: (to, n, text) => `{"type":"send","id":"${String(n)}","to":"${to}","clientMessageId":"m${String(n)}","body":{"text":"${text}"}}`,
    roomFrame: (room, n, text) => `{"type":"group.send","id":"${String(n)}","groupId":"${room}","clientMessageId":"m${String(n)}","body":{"text":"${text}"}}`,
    ackOf: (text) => {
      const match = /^\{"type":"ack","id":"(\d+)"/.exec(text);
      return match ? Number(match[1]) : null;
    },
    makeRoom: async (owner, members) => {
      const request = (frame: Record<string, unknown>): Promise<Record<string, unknown>> =>
        new Promise((resolve, reject) => {
          const id = `setup-${String(++requests)}`;
          const listener = (data: Buffer): void => {
            const reply = JSON.parse(data.toString()) as Record<string, unknown>;
            if (reply.id !== id) return;
            owner.socket.off("message", listener);
            if (reply.type === "error") reject(new Error(`${String(frame.type)}: ${String(reply.message)}`));
            else resolve(reply);
          };
          owner.socket.on("message", listener);
          owner.send(JSON.stringify({ ...frame, id }));
        });
      const others = members.slice(1);
      const created = await request({ type: "group.create", name: "bench", members: others.slice(0, 255) });
      const groupId = (created.group as { groupId: string }).groupId;
      for (let i = 255; i < others.length; i += 256) await request({ type: "group.add", groupId, members: others.slice(i, i + 256) });
      return groupId;
    },
    stop: async () => {
      await server.stop(15_000);
    },
  };
}

const BASELINE_PATH = fileURLToPath(new URL("./baseline-ws-server.js", import.meta.url));

export async function startBareWs(serverCores: string): Promise<Target> {
  // With the same probe as Parley's server (probe.ts), for its garbage collection on request.
  const child: ChildProcess = spawn(process.execPath, ["--expose-gc", "--import", PROBE_URL, BASELINE_PATH], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  const pid = child.pid;
  if (pid === undefined || child.stdout === null) throw new Error("could not start the bare ws baseline");
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error("the bare ws baseline did not start"));
    }, START_TIMEOUT_MS);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(line.replace("listening ", ""));
    });
  });
  await pinToCores(pid, serverCores);
  const exited = new Promise<void>((resolve) => child.once("exit", () => {
    resolve();
  }));
  let probes = 0;
  return {
    name: "ws",
    pid,
    cpuMs: () => cpuMsOf(pid) ?? 0,
    rssKiB: () => rssKiBOf(pid),
    collectGarbage: () =>
      new Promise<void>((resolve) => {
        const id = ++probes;
        const listener = (message: unknown): void => {
          if ((message as Partial<ProbeReply> | null)?.id !== id) return;
          child.off("message", listener);
          resolve();
        };
        child.on("message", listener);
        const request: ProbeRequest = { type: PROBE_MESSAGE, id, gc: true, resetLoopDelay: false };
        child.send(request);
      }),
    connect: async (user, room) => {
      const query = `user=${encodeURIComponent(user)}${room === undefined ? "" : `&room=${encodeURIComponent(room)}`}`;
      return driverSocket(await opened(new WebSocket(`ws://127.0.0.1:${port}/?${query}`, { perMessageDeflate: false }), false));
    },
    directFrame: (to, n, text) => `{"to":"${to}","id":${String(n)},"clientMessageId":"m${String(n)}","text":"${text}"}`,
    roomFrame: (room, n, text) => `{"room":"${room}","id":${String(n)},"clientMessageId":"m${String(n)}","text":"${text}"}`,
    ackOf: (text) => {
      const match = /^\{"ack":(\d+)\}$/.exec(text);
      return match ? Number(match[1]) : null;
    },
    // Rooms are joined at connect time (the room query parameter).
    makeRoom: (_owner, _members, name) => Promise.resolve(name),
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The HS256 key Centrifugo verifies the driver's connection tokens with (loopback only). */
const CENTRIFUGO_TOKEN_KEY = "parley-bench-suite-centrifugo-hmac-key";

/** The number of cores in a taskset list such as "0" or "1-3,5". */
function coreCount(cores: string): number {
  return cores.split(",").reduce((sum, part) => {
    const [from, to] = part.split("-").map(Number);
    return sum + (to === undefined || from === undefined ? 1 : to - from + 1);
  }, 0);
}

/**
 * Centrifugo v6 (make bench-peers), built by build-centrifugo.sh, with its memory engine.
 * Each client connects with an HS256 JWT naming its user (`client.token.hmac_secret_key`),
 * as Parley's clients do, so a connect costs it a token verification too; it then
 * subscribes to the room's channel (`allow_subscribe_for_client`) and the owner publishes
 * into it as a subscriber (`allow_publish_for_subscriber`), which Centrifugo pushes to
 * every subscriber, the publisher included, as Parley and the bare ws broadcast do.
 * Commands and replies are its JSON protocol over /connection/websocket.
 */
export async function startCentrifugo(binary: string, serverCores: string, workDir: string): Promise<Target> {
  const port = await freePort();
  const config = {
    http_server: { address: "127.0.0.1", port },
    log: { level: "error" },
    client: { token: { hmac_secret_key: CENTRIFUGO_TOKEN_KEY } },
    channel: { without_namespace: { allow_subscribe_for_client: true, allow_publish_for_subscriber: true } },
    usage_stats: { disabled: true },
  };
  const configPath = join(workDir, `parley-bench-centrifugo-${String(port)}.json`);
  writeFileSync(configPath, JSON.stringify(config));
  // Go sizes its scheduler from the cores it may use at start-up: as many as the server
  // gets, as Node's one event loop gets one core.
  const child = spawn(binary, ["--config", configPath], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, GOMAXPROCS: String(Math.max(1, coreCount(serverCores))) },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start centrifugo");
  let running = true;
  const exited = new Promise<void>((resolve) => child.once("exit", () => {
    running = false;
    resolve();
  }));
  try {
    await waitForPort(port, START_TIMEOUT_MS, () => running);
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    rmSync(configPath, { force: true });
    throw new Error(`centrifugo did not start (its log is above): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  await pinToCores(pid, serverCores);
  const tokens = new TokenAuthority(CENTRIFUGO_TOKEN_KEY);
  return {
    name: "centrifugo",
    pid,
    cpuMs: () => cpuMsOf(pid) ?? 0,
    rssKiB: () => rssKiBOf(pid),
    collectGarbage: () => Promise.resolve(),
    connect: async (user, room) => {
      const token = await tokens.issue(user, 3600);
      const socket = await opened(new WebSocket(`ws://127.0.0.1:${String(port)}/connection/websocket`, { perMessageDeflate: false }), false);
      // Commands batched in one frame, newline-separated, as its JSON protocol allows;
      // so are its replies, possibly.
      const commands = [`{"id":1,"connect":{"token":"${token}"}}`, ...(room === undefined ? [] : [`{"id":2,"subscribe":{"channel":"${room}"}}`])];
      await new Promise<void>((resolve, reject) => {
        let pending = commands.length;
        const listener = (data: Buffer): void => {
          for (const line of data.toString().split("\n")) {
            if (!line.startsWith('{"id":')) continue;
            if (line.includes('"error":')) {
              socket.off("message", listener);
              socket.terminate();
              reject(new Error(`centrifugo: ${line}`));
              return;
            }
            if (--pending === 0) {
              socket.off("message", listener);
              resolve();
            }
          }
        };
        socket.on("message", listener);
        socket.send(commands.join("\n"));
      });
      // Its server pings are empty objects that want one back (the connect reply's "pong":true).
      socket.on("message", (data: Buffer) => {
        if (data.length === 2 && data.toString() === "{}") socket.send("{}");
      });
      return driverSocket(socket);
    },
    directFrame: () => {
      throw new Error("centrifugo takes part in the idle and fan-out scenarios only");
    },
    // Publication data is pushed as sent: {"push":{"channel":…,"pub":{"data":{"clientMessageId":"m<n>",…}}}}.
    roomFrame: (room, n, text) => `{"id":${String(n + 10)},"publish":{"channel":"${room}","data":{"clientMessageId":"m${String(n)}","text":"${text}"}}}`,
    ackOf: () => null,
    makeRoom: (_owner, _members, name) => Promise.resolve(name),
    stop: async () => {
      child.kill("SIGTERM");
      // Its graceful shutdown waits for clients; the suite has closed them, so a stop that
      // lingers is not worth waiting for.
      const forced = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(forced);
      rmSync(configPath, { force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Resolves once `port` accepts a connection; throws after `timeoutMs`, or as soon as `alive` says the server is gone. */
async function waitForPort(port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!alive()) throw new Error(`it exited before listening on port ${String(port)}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => {
        resolve(false);
      });
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listens on port ${String(port)} after ${String(timeoutMs)} ms`);
}
