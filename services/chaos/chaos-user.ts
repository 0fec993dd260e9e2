/**
 * One user of a chaos scenario, behaving as a careful client does through a fault: it
 * reconnects when its connection drops (to the next gateway in the list, as a load
 * balancer would send it elsewhere), resumes its inbox from its cursor, and gives every
 * request a time limit so a request lost in a fault is retried rather than waited for.
 * It records what arrives: inbox messages and group pushes, by clientMessageId.
 *
 * Each connection is its own SDK client with `reconnect: false`, so every drop shows
 * (and is counted) here and the user itself picks the next gateway; the clients share one
 * storage, so the next one resumes from the cursor the last one reached. Sends go out as
 * plain requests (traffic.ts), never through the SDK's outbox: a failed send must reach
 * the traffic's own retry and its failure count, not be retried silently.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { memoryStorage, ParleyClient, type ParleyStorage } from "../sdk/index.js";
import { nodeWebSocket } from "../sdk/node.js";
import type { Message } from "../protocol/frames.js";

/** Between connection attempts while no gateway answers. */
const RECONNECT_PAUSE_MS = 250;

export interface ChaosUserOptions {
  userId: string;
  /** ws:// URLs of the gateways now running; read at every attempt (a restarted gateway has a new port). */
  gateways: () => readonly string[];
  /** Which gateway to try first. */
  home: number;
  token: (userId: string) => Promise<string>;
  requestTimeoutMs: number;
  log: (text: string) => void;
}

export class ChaosUser {
  /** clientMessageId → how often it arrived (inbox events, live or synced; group pushes). */
  readonly received = new Map<string, number>();
  reconnects = 0;
  private client: ParleyClient | null = null;
  private connecting: Promise<ParleyClient> | null = null;
  /** The inbox cursor (and the SDK's group marks; the outbox stays empty) carried from one connection to the next. */
  private readonly storage: ParleyStorage = memoryStorage();
  private attempt: number;
  private stopped = false;

  constructor(private readonly options: ChaosUserOptions) {
    this.attempt = options.home;
  }

  get userId(): string {
    return this.options.userId;
  }

  /** The open connection, or the next one once it is open. */
  connection(): Promise<ParleyClient> {
    if (this.client !== null) return Promise.resolve(this.client);
    this.connecting ??= this.connectUntilOpen().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** A request on the current connection that fails after the time limit (the connection stays). */
  async withTimeout<T>(what: string, request: (client: ParleyClient) => Promise<T>): Promise<T> {
    const client = await this.connection();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Coded as the SDK's own time limit is: no answer came (traffic.ts counts failures by code).
        reject(Object.assign(new Error(`${what}: no reply within ${this.options.requestTimeoutMs} ms`), { code: "timeout" }));
      }, this.options.requestTimeoutMs);
    });
    try {
      return await Promise.race([request(client), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads a conversation's whole history, oldest first. */
  async history(conversationId: string): Promise<Message[]> {
    const messages: Message[] = [];
    let after = 0;
    for (;;) {
      const page = await this.withTimeout(`history of ${conversationId}`, (client) => client.history(conversationId, { after, limit: 200 }));
      messages.push(...page.messages);
      const last = page.messages.at(-1);
      if (!page.hasMore || last === undefined) return messages;
      after = last.seq;
    }
  }

  /** Catches the inbox up on the current connection. */
  sync(): Promise<void> {
    return this.withTimeout("sync", (client) => client.sync());
  }

  async close(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    this.client = null;
    await client?.close();
  }

  private async connectUntilOpen(): Promise<ParleyClient> {
    for (;;) {
      if (this.stopped) throw new Error(`${this.userId} is closed`);
      const gateways = this.options.gateways();
      const url = gateways[this.attempt % gateways.length];
      if (url === undefined) throw new Error("no gateway to connect to");
      try {
        const client = await this.connectWithin(url, await this.options.token(this.userId));
        // A sync that fails after a gap surfaces here; the next request's time limit covers it.
        client.on("error", (error) => {
          this.options.log(`${this.userId}: ${error.message}`);
        });
        client.once("close", () => {
          if (this.client === client) this.client = null;
          if (!this.stopped) this.reconnects += 1;
        });
        this.client = client;
        return client;
      } catch (error) {
        this.attempt += 1;
        this.options.log(`${this.userId}: connecting to ${url} failed (${error instanceof Error ? error.message : String(error)})`);
        // A pause, not an event: nothing tells us when a gateway comes back.
        await sleep(RECONNECT_PAUSE_MS);
      }
    }
  }

  /** Connects (hello and the first sync) within the request time limit; a connection that opens later is closed. */
  private async connectWithin(url: string, token: string): Promise<ParleyClient> {
    const client = new ParleyClient({
      url,
      token,
      deviceId: "chaos",
      WebSocket: nodeWebSocket,
      storage: this.storage,
      reconnect: false,
      // The user's own time limits (withTimeout) watch the connection, as before the SDK: no pings of its own.
      pingIntervalMs: 0,
      // Only live group pushes count as received: a catch-up would hide a push the fault lost.
      syncGroups: false,
      requestTimeoutMs: this.options.requestTimeoutMs,
    });
    // Attached before connecting, so the first sync's events (and pushes meanwhile) are counted too.
    client.on("event", (event) => {
      if (event.type === "message") this.count(event.message);
    });
    client.on("groupMessages", (messages) => {
      for (const message of messages) this.count(message);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no hello and first sync within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
    });
    try {
      await Promise.race([client.connect(), timeout]);
      return client;
    } catch (error) {
      await client.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private count(message: Message): void {
    this.received.set(message.clientMessageId, (this.received.get(message.clientMessageId) ?? 0) + 1);
  }
}
