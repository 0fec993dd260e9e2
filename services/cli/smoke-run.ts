import { randomBytes, randomUUID } from "node:crypto";
import { TokenAuthority } from "../auth/tokens.js";
import type { Message } from "../protocol/frames.js";
import WebSocket from "ws";
import { ParleyClient, type WebSocketConstructor } from "../sdk/index.js";
import { configFromOptions } from "./settings-options.js";

export interface SmokeOptions extends Record<string, unknown> {
  url: string;
  assetsUrl?: string;
  token?: string[];
  /** Seconds. */
  timeout: number;
}

/** A step that failed: the summary names it. */
class StepFailed extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `parley smoke`: the checks a CI job runs against a freshly installed platform. Returns the
 * exit code: 0 when every step worked, 1 otherwise; prints one line either way.
 */
export async function runSmoke(options: SmokeOptions): Promise<number> {
  const started = performance.now();
  const clients: ParleyClient[] = [];
  const timings: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new StepFailed("timeout", `not done after ${String(options.timeout)} s`));
    }, options.timeout * 1000);
  });
  let step = "tokens";
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    step = name;
    const at = performance.now();
    try {
      const result = await Promise.race([work(), timedOut]);
      timings.push(`${name} ${String(Math.round(performance.now() - at))} ms`);
      return result;
    } catch (error) {
      throw error instanceof StepFailed ? error : new StepFailed(name, error instanceof Error ? error.message : String(error));
    }
  };
  try {
    const [tokenA, tokenB] = await timed("tokens", () => tokensFor(options));
    const [alice, bob, bobId] = await timed("connect", async () => {
      // A smoke check reports a connection that fails, and why, instead of retrying it.
      const open = async (token: string): Promise<{ client: ParleyClient; userId: string }> => {
        const socket = socketNamingFailures();
        const client = new ParleyClient({ url: options.url, token, deviceId: "smoke", WebSocket: socket.WebSocket, reconnect: false });
        clients.push(client);
        try {
          const hello = await client.connect();
          return { client, userId: hello.userId };
        } catch (error) {
          throw socket.failure() ?? error;
        }
      };
      const a = await open(tokenA);
      const b = await open(tokenB);
      if (a.userId === b.userId) throw new Error(`both tokens are for ${a.userId}: give two different users' tokens`);
      return [a.client, b.client, b.userId] as const;
    });
    await timed("1:1", async () => {
      const text = `smoke 1:1 ${randomUUID()}`;
      const received = receive(bob, text);
      await alice.send(bobId, text);
      await received;
    });
    await timed("group", async () => {
      const group = await alice.groups.create("parley smoke", [bobId]);
      const text = `smoke group ${randomUUID()}`;
      const received = receive(bob, text);
      await alice.groups.send(group.groupId, text);
      await received;
    });
    await timed("asset", () => roundTripAsset(assetsBase(options), tokenA));
    process.stdout.write(`parley smoke: ok in ${String(Math.round(performance.now() - started))} ms (${timings.join(", ")})\n`);
    return 0;
  } catch (error) {
    const failed = error instanceof StepFailed ? error : new StepFailed(step, String(error));
    process.stdout.write(`parley smoke: FAILED at ${failed.step}: ${failed.message}\n`);
    return 1;
  } finally {
    clearTimeout(timer);
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  }
}

/** Two users' tokens: the two given, or two fresh users minted with PARLEY_JWT_SECRET. */
async function tokensFor(options: SmokeOptions): Promise<[string, string]> {
  const [first, second, extra] = options.token ?? [];
  if (first !== undefined) {
    if (second === undefined || extra !== undefined) throw new Error("give --token twice, once for each of two users");
    return [first, second];
  }
  const secret = configFromOptions(options).jwtSecret;
  if (secret === undefined) throw new Error("give two --token options, or set PARLEY_JWT_SECRET to mint tokens");
  const authority = new TokenAuthority(secret);
  const run = randomBytes(4).toString("hex");
  return [await authority.issue(`smoke-${run}-a`, 600), await authority.issue(`smoke-${run}-b`, 600)];
}

/**
 * The `ws` WebSocket for the SDK, keeping the socket's own error (a refused upgrade's HTTP
 * status, ECONNREFUSED): the SDK reports only the close code, and an operator needs the cause.
 */
function socketNamingFailures(): { WebSocket: WebSocketConstructor; failure: () => Error | undefined } {
  let failure: Error | undefined;
  const Socket = class extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols, { perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
      this.on("error", (error) => {
        failure ??= error;
      });
    }
  } as unknown as WebSocketConstructor;
  return { WebSocket: Socket, failure: () => failure };
}

/** Resolves once `client` gets a message with `text`, direct or in a group. */
function receive(client: ParleyClient, text: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = client.on("message", (message: Message) => {
      if (message.body.text !== text) return;
      stop();
      resolve();
    });
  });
}

function assetsBase(options: SmokeOptions): string {
  if (options.assetsUrl !== undefined) return options.assetsUrl.replace(/\/$/, "");
  const url = new URL(options.url);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}

/** A 1x1 transparent GIF: the smallest upload of a type the assets service accepts. */
const PIXEL = Buffer.from("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==", "base64");

/** Uploads a small image, asks for its link and downloads it: the bytes must come back. */
async function roundTripAsset(base: string, token: string): Promise<void> {
  const bytes = PIXEL;
  const upload = await fetch(`${base}/v1/assets`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "image/gif" },
    body: bytes,
  });
  if (upload.status !== 201) throw new Error(`upload answered ${String(upload.status)}: ${(await upload.text()).slice(0, 200)}`);
  const { assetId } = (await upload.json()) as { assetId: string };
  const link = await fetch(`${base}/v1/assets/${assetId}/link`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  if (link.status !== 200) throw new Error(`link answered ${String(link.status)}`);
  const { url } = (await link.json()) as { url: string };
  const download = await fetch(new URL(url, base));
  if (download.status !== 200) throw new Error(`download answered ${String(download.status)}`);
  if (!Buffer.from(await download.arrayBuffer()).equals(bytes)) throw new Error("the downloaded bytes differ from the uploaded ones");
}
