import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
import type { InboxEvent } from "../protocol/frames.js";
import { directConversationId } from "../protocol/ids.js";
import { ParleyClient } from "../sdk/index.js";
import { fileStorage, nodeWebSocket } from "../sdk/node.js";
import { configFromOptions } from "./settings-options.js";

export interface ConnectOptions extends Record<string, unknown> {
  url: string;
  device: string;
  token?: string;
}

const HELP = "type '@bob hello' to send, '/history bob' for the last messages, '/quit' to leave";

/**
 * `parley connect <user>`: a small interactive client on the terminal, on the SDK. Its
 * cursor and unsent messages live in `<data-dir>/cli-<user>-<device>.json`, so a restart
 * resumes where it stopped and a message typed while the server was away is sent later.
 */
export async function runConnect(user: string, options: ConnectOptions): Promise<void> {
  const config = configFromOptions(options);
  const dataDir = resolve(config.dataDir);
  const token =
    options.token ??
    process.env.PARLEY_TOKEN ??
    (await new TokenAuthority(config.jwtSecret ?? loadOrCreateDevSecret(dataDir)).issue(user, 24 * 3600));
  const client = new ParleyClient({
    url: options.url,
    token,
    deviceId: options.device,
    WebSocket: nodeWebSocket,
    storage: fileStorage(join(dataDir, `cli-${user}-${options.device}.json`)),
  });
  client.on("event", (event) => {
    print(user, event);
    if (event.type === "message" && event.message.senderId !== user) {
      client.markRead(event.message.conversationId, event.message.seq).catch(() => undefined);
    }
  });
  client.on("error", (error) => process.stderr.write(`error: ${error.message}\n`));
  const firstConnection = client.connect();
  // The first attempt decides: a wrong URL or token is reported at once rather than retried.
  const opened = await Promise.race([firstConnection.then(() => true), client.next("close").then(() => false)]);
  if (!opened) {
    process.stderr.write(`parley: could not connect to ${options.url}\n`);
    await client.close();
    process.exit(1);
  }
  client.on("close", ({ code, reason, willReconnect }) => {
    process.stderr.write(`connection closed (${code}${reason ? `: ${reason}` : ""})${willReconnect ? "; reconnecting" : ""}\n`);
  });
  process.stderr.write(`connected as ${client.userId ?? user} (device ${options.device}); ${HELP}\n`);

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    try {
      if (await runLine(client, user, line.trim())) break;
    } catch (error) {
      process.stderr.write(`error: ${(error as Error).message}\n`);
    }
  }
  await client.close();
}

/** Runs one typed line; true when the user asked to quit. */
async function runLine(client: ParleyClient, me: string, line: string): Promise<boolean> {
  if (line === "") return false;
  if (line === "/quit") return true;
  const history = /^\/history\s+(\S+)$/.exec(line);
  if (history?.[1]) {
    const page = await client.history(directConversationId(me, history[1]), { limit: 20 });
    for (const message of page.messages.reverse()) process.stdout.write(`  #${message.seq} ${message.senderId}: ${message.body.text ?? "[assets]"}\n`);
    return false;
  }
  const send = /^@(\S+)\s+(.+)$/.exec(line);
  if (send?.[1] && send[2]) {
    const message = await client.send(send[1], send[2]);
    process.stderr.write(`  ✓ stored as #${message.seq}\n`);
    return false;
  }
  process.stderr.write(`${HELP}\n`);
  return false;
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
