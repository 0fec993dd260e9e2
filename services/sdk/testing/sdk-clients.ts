import { afterEach } from "vitest";
import type { TestPlatform } from "../../e2e/support/test-platform.js";
import { ParleyClient } from "../client.js";
import { nodeWebSocket } from "../node.js";
import type { ParleyEvents, ParleyOptions } from "../types.js";

/**
 * SDK clients for a test, closed after it: `open(platform, user)` connects one with a
 * fresh token and reconnect delays short enough for tests.
 */
export function sdkClientsPerTest(): {
  create: (platform: TestPlatform, userId: string, options?: Partial<ParleyOptions>) => Promise<ParleyClient>;
  open: (platform: TestPlatform, userId: string, options?: Partial<ParleyOptions>) => Promise<ParleyClient>;
} {
  const clients: ParleyClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  const create = async (platform: TestPlatform, userId: string, options: Partial<ParleyOptions> = {}): Promise<ParleyClient> => {
    const token = await platform.token(userId);
    const client = new ParleyClient({ url: platform.websocketUrl, token, WebSocket: nodeWebSocket, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
    clients.push(client);
    return client;
  };
  return {
    create,
    open: async (platform, userId, options = {}) => {
      const client = await create(platform, userId, options);
      await client.connect();
      return client;
    },
  };
}

/** Everything a client emits for `event` from now on, and a way to await a count of them. */
export function collect<K extends keyof ParleyEvents>(client: ParleyClient, event: K): { items: ParleyEvents[K][]; until: (count: number) => Promise<ParleyEvents[K][]> } {
  const items: ParleyEvents[K][] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  client.on(event, (...args) => {
    items.push(args);
    for (const waiter of waiters.filter((w) => items.length >= w.count)) waiter.resolve();
  });
  return {
    items,
    until: (count) =>
      new Promise((resolve) => {
        if (items.length >= count) resolve(items);
        else waiters.push({ count, resolve: () => { resolve(items); } });
      }),
  };
}
