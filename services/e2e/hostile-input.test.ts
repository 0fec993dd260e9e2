import { once } from "node:events";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { ServerFrame } from "../protocol/frames.js";
import { expectedOutcome, GATEWAY_SEED, regressionCorpus, wireInput, type Outcome, type WireInput } from "../protocol/testing/hostile-frames.js";
import { startTestPlatform, type TestPlatform } from "./support/test-platform.js";

/** Large enough for the corpus's 10,000-deep frames, small enough to send past it cheaply. */
const MAX_FRAME_BYTES = 64 * 1024;
const MAX_ERROR_MESSAGE_LENGTH = 1_000;
const BATCHES = 4;
const INPUTS_PER_BATCH = 50;

let platform: TestPlatform;
let bystander: RawClient;
let attackers = 0;

beforeAll(async () => {
  platform = await startTestPlatform({ maxFrameBytes: MAX_FRAME_BYTES });
  bystander = await RawClient.open(platform, "bystander");
});

afterAll(async () => {
  bystander.socket.close();
  await platform.dispose();
});

/** A bare socket that records every server frame and how it closed. */
class RawClient {
  readonly frames: ServerFrame[] = [];
  private readonly waiters: (() => void)[] = [];
  closeCode: number | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.frames.push(JSON.parse((data as Buffer).toString()) as ServerFrame);
      this.wake();
    });
    socket.on("close", (code) => {
      this.closeCode = code;
      this.wake();
    });
    // The server may close mid-write (a frame over the limit): the client then sees EPIPE
    // or ECONNRESET, which an unhandled 'error' event would turn into a test-process crash.
    socket.on("error", () => undefined);
  }

  static async open(p: TestPlatform, userId: string): Promise<RawClient> {
    const socket = new WebSocket(p.websocketUrl, { headers: { Authorization: `Bearer ${await p.token(userId)}` } });
    const client = new RawClient(socket);
    await once(socket, "open");
    await client.until(() => client.frames.some((frame) => frame.type === "hello"));
    client.frames.length = 0;
    return client;
  }

  /** Resolves when `done` holds after a frame or the close. */
  until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Sends a ping after whatever came before; resolves with the pong, or when the socket closed first. */
  async ping(id: string): Promise<boolean> {
    if (this.closeCode === undefined) this.socket.send(JSON.stringify({ type: "ping", id }));
    const isPong = (frame: ServerFrame): boolean => frame.type === "pong" && frame.id === id;
    await this.until(() => this.closeCode !== undefined || this.frames.some(isPong));
    return this.frames.some(isPong);
  }

  send(input: WireInput): void {
    if (input.kind === "text") this.socket.send(input.text);
    else if (input.kind === "bytes") this.socket.send(input.bytes, { binary: input.binary });
    else {
      // ws sends the first part with the message's opcode and the rest as continuations.
      input.parts.forEach((part, index) => {
        this.socket.send(part, { binary: input.binary, fin: index === input.parts.length - 1 });
      });
    }
  }
}

/**
 * Sends `input` on a connection of its own (so one input's close cannot hide the next one's
 * answer), follows it with a ping, and reports what the gateway did.
 */
async function deliver(input: WireInput): Promise<{ outcome: Outcome; frames: ServerFrame[] }> {
  const attacker = await RawClient.open(platform, `mallory-${String(++attackers)}`);
  attacker.send(input);
  const answered = await attacker.ping("sentinel");
  if (!answered) await attacker.until(() => attacker.closeCode !== undefined);
  attacker.socket.close();
  const [first] = attacker.frames;
  const outcome: Outcome = answered ? { reply: first === undefined ? "any" : { ...first } } : { close: attacker.closeCode ?? -1 };
  return { outcome, frames: attacker.frames };
}

/** No answer may be an internal error or carry back more than a bounded message. */
function expectSafeAnswers(frames: ServerFrame[]): void {
  for (const frame of frames) {
    if (frame.type !== "error") continue;
    expect(frame.code).not.toBe("internal");
    expect(frame.message.length).toBeLessThan(MAX_ERROR_MESSAGE_LENGTH);
  }
}

/**
 * The platform still serves: a connection opened now and the one open since the start both
 * answer. `label` names the pings (a request id: at most 64 characters).
 */
async function expectPlatformServing(label: string): Promise<void> {
  const fresh = await RawClient.open(platform, "newcomer");
  expect(await fresh.ping(`fresh-${label}`)).toBe(true);
  fresh.socket.close();
  expect(await bystander.ping(`bystander-${label}`)).toBe(true);
}

describe("the gateway under hostile input", () => {
  it.each(regressionCorpus(MAX_FRAME_BYTES).map((entry, index) => [entry.name, entry, index] as const))("survives the regression corpus: %s", async (_, entry, index) => {
    const { outcome, frames } = await deliver(entry.input);
    if ("close" in entry.expected) expect(outcome).toEqual(entry.expected);
    else expect(outcome).toMatchObject(entry.expected);
    expectSafeAnswers(frames);
    await expectPlatformServing(`corpus-${String(index)}`);
  });

  it.each(Array.from({ length: BATCHES }, (_, batch) => [batch, GATEWAY_SEED + batch] as const))(
    "answers or closes as the protocol says for generated hostile input, batch %i (seed %i), and keeps serving",
    async (_, seed) => {
      console.info(`hostile gateway input: fast-check seed ${String(seed)}`);
      await fc.assert(
        fc.asyncProperty(wireInput(MAX_FRAME_BYTES), async (input) => {
          const { outcome, frames } = await deliver(input);
          const expected = expectedOutcome(input, MAX_FRAME_BYTES);
          if ("close" in expected) expect(outcome).toEqual(expected);
          else expect(outcome).toHaveProperty("reply");
          expectSafeAnswers(frames);
        }),
        { seed, numRuns: INPUTS_PER_BATCH },
      );
      await expectPlatformServing(`batch-${String(seed)}`);
    },
  );
});
