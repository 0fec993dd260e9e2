/**
 * Many idle clients, each reconnecting (to the next gateway, after a random wait of up to
 * a second, as the protocol's clients do) whenever its connection drops: the load a
 * gateway restart throws at the others, measured as the time until every client is back.
 */
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { ParleyClient } from "../sdk/index.js";
import { openBenchClient } from "../bench/bench-client.js";

/** File descriptors left to the runner's own connections (the four users, Kafka, logs). */
const FD_MARGIN = 1_000;
/** Connections opened at once while the storm clients connect the first time. */
const CONNECTING_AT_ONCE = 200;

/** How many storm clients fit in this process's file limit (each holds one socket), at most `wanted`. */
export function stormClientsThatFit(wanted: number): number {
  const limit = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
  return Number.isFinite(limit) ? Math.max(0, Math.min(wanted, limit - FD_MARGIN)) : wanted;
}

export class StormClients {
  private readonly clients = new Map<number, ParleyClient>();
  private closed = false;
  private connectedWaiter: (() => void) | null = null;
  reconnects = 0;
  failedAttempts = 0;

  constructor(
    private readonly options: { count: number; gateways: () => string[]; token: (userId: string) => Promise<string> },
  ) {}

  /** Connects every client (home gateway: the first), CONNECTING_AT_ONCE at a time. */
  async connectAll(): Promise<void> {
    const ids = Array.from({ length: this.options.count }, (_, i) => i);
    for (let at = 0; at < ids.length; at += CONNECTING_AT_ONCE) {
      await Promise.all(ids.slice(at, at + CONNECTING_AT_ONCE).map((i) => this.connect(i, 0)));
    }
  }

  connected(): number {
    return this.clients.size;
  }

  /** Resolves once every client is connected again, or after `timeoutMs` (returns false then). */
  async allConnected(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.clients.size < this.options.count) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await Promise.race([new Promise<void>((resolve) => (this.connectedWaiter = resolve)), sleep(Math.min(left, 1_000))]);
    }
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.clients.values()].map((client) => client.close().catch(() => undefined)));
    this.clients.clear();
  }

  private async connect(i: number, attempt: number): Promise<void> {
    while (!this.closed) {
      const gateways = this.options.gateways();
      const url = gateways[attempt % Math.max(1, gateways.length)];
      if (url === undefined) {
        await sleep(200);
        continue;
      }
      try {
        // The SDK without its own reconnection (the storm reconnects, to the next gateway) and without pings: idle means idle.
        const client = await openBenchClient(url, await this.options.token(`storm-${i}`), "storm");
        const comeBack = (): void => {
          this.clients.delete(i);
          if (this.closed) return;
          this.reconnects += 1;
          // Jittered, as real clients back off, so they do not all arrive in the same millisecond.
          void sleep(Math.random() * 1_000).then(() => this.connect(i, attempt + 1));
        };
        this.clients.set(i, client);
        this.connectedWaiter?.();
        client.once("close", comeBack);
        return;
      } catch {
        this.failedAttempts += 1;
        attempt += 1;
        await sleep(250 + Math.random() * 1_000);
      }
    }
  }
}
