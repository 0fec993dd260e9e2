import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
import { ParleyClient } from "../client/parley-client.js";
import type { InboxEvent } from "../protocol/frames.js";
import { directConversationId } from "../protocol/ids.js";
import { configFromOptions } from "./settings-options.js";

export interface ConnectOptions extends Record<string, unknown> {
  url: string;
  device: string;
  token?: string;
}

const HELP = "type '@bob hello' to send, '/history bob' for the last messages, '/quit' to leave";

/** `parley connect <user>`: a small interactive client on the terminal. */
export async function runConnect(user: string, options: ConnectOptions): Promise<void> {
  const config = configFromOptions(options);
  const dataDir = resolve(config.dataDir);
  const token =
    options.token ??
    process.env.PARLEY_TOKEN ??
    (await new TokenAuthority(config.jwtSecret ?? loadOrCreateDevSecret(dataDir)).issue(user, 24 * 3600));
  const cursorFile = join(dataDir, `cli-cursor-${user}-${options.device}`);
  // Read receipts go out once connected; events from the first sync arrive before that.
  const pendingReads = new Map<string, number>();
  let client: ParleyClient | undefined;
  const markRead = (conversationId: string, seq: number): void => {
    if (client) client.receipt(conversationId, "read", seq).catch(() => undefined);
    else pendingReads.set(conversationId, seq);
  };
  const onEvent = (event: InboxEvent): void => {
    print(user, event);
    writeFileSync(cursorFile, String(event.cursor));
    if (event.type === "message" && event.message.senderId !== user) markRead(event.message.conversationId, event.message.seq);
  };
  try {
    client = await ParleyClient.connect({ url: options.url, token, deviceId: options.device, cursor: readCursor(cursorFile), onEvent });
  } catch (error) {
    process.stderr.write(`parley: could not connect to ${options.url}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  for (const [conversationId, seq] of pendingReads) markRead(conversationId, seq);
  client.on("close", (code, reason) => {
    process.stderr.write(`connection closed (${code}${reason ? `: ${reason}` : ""})\n`);
    process.exit(code === 1000 ? 0 : 1);
  });
  client.on("error", (error) => process.stderr.write(`error: ${error.message}\n`));
  process.stderr.write(`connected as ${client.userId} (device ${options.device}); ${HELP}\n`);

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    try {
      await runLine(client, line.trim());
    } catch (error) {
      process.stderr.write(`error: ${(error as Error).message}\n`);
    }
  }
  await client.close();
}

async function runLine(client: ParleyClient, line: string): Promise<void> {
  if (line === "") return;
  if (line === "/quit") {
    await client.close();
    return;
  }
  const history = /^\/history\s+(\S+)$/.exec(line);
  if (history?.[1]) {
    const page = await client.history(directConversationId(client.userId, history[1]), undefined, 20);
    for (const message of page.messages.reverse()) process.stdout.write(`  #${message.seq} ${message.senderId}: ${message.body.text ?? "[assets]"}\n`);
    return;
  }
  const send = /^@(\S+)\s+(.+)$/.exec(line);
  if (send?.[1] && send[2]) {
    const { message } = await client.send(send[1], send[2]);
    process.stderr.write(`  ✓ stored as #${message.seq}\n`);
    return;
  }
  process.stderr.write(`${HELP}\n`);
}

function print(me: string, event: InboxEvent): void {
  if (event.type === "message") {
    const { senderId, recipientId, body, seq } = event.message;
    const peer = senderId === me ? `you → ${recipientId ?? "?"}` : senderId;
    process.stdout.write(`[${peer}] ${body.text ?? ""}${body.assets ? ` [${body.assets.length} asset(s)]` : ""}  (#${seq})\n`);
  } else if (event.type === "receipt" && event.receipt.userId !== me) {
    process.stdout.write(`  ${event.receipt.userId} ${event.receipt.kind} up to #${event.receipt.upToSeq}\n`);
  }
}

function readCursor(path: string): number {
  try {
    return Number(readFileSync(path, "utf8")) || 0;
  } catch {
    return 0;
  }
}
