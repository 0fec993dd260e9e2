import { once } from "node:events";
import type { Cluster } from "ioredis";
import { describe, expect, it } from "vitest";
import { infraEndpoint } from "../../testing/infra.js";
import { closeClient, createRedisClient, REDIS_CLUSTER_SLOTS_REFRESH_MS } from "./redis-client.js";
import { uniqueKeyPrefix } from "./testing/redis-test-support.js";

/** ioredis's slot map, as a failover leaves it stale in a client (fields ioredis keeps to itself). */
interface SlotMap {
  slots: string[][];
  _groupsBySlot: (number | undefined)[];
  _groupsIds: Record<string, number>;
}

describe("a Redis Cluster client after a failover", () => {
  it("finds the new owner of slots it got wrong, within a second, when only pipelined commands meet the MOVED replies", async () => {
    const client = createRedisClient({ clusterNodes: infraEndpoint("PARLEY_TEST_REDIS_CLUSTER_NODES") }) as Cluster;
    try {
      const prefix = uniqueKeyPrefix();
      // Two keys of different slots on one master, so that their wrong answers differ (MOVED <slot> <address>).
      const first = await slotOf(client, `${prefix}0`);
      const picked = [first];
      for (let i = 1; picked.length < 2; i++) {
        const next = await slotOf(client, `${prefix}${String(i)}`);
        if (next.owner === first.owner && next.slot !== first.slot) picked.push(next);
      }
      const keys = picked.map(({ key }) => key);
      const map = client as unknown as SlotMap;
      const wrong = client.nodes("master").map(nodeKey).find((node) => node !== first.owner);
      if (wrong === undefined) throw new Error("the cluster has one master only");

      // Right after the client's own periodic read of the map, as a failover leaves a client,
      // and in the same tick as the sends below, so no read can repair the map in between:
      // both slots filed under another master.
      await once(client, "refresh", { signal: AbortSignal.timeout(REDIS_CLUSTER_SLOTS_REFRESH_MS + 2_000) });
      for (const { slot } of picked) {
        map.slots[slot] = [wrong];
        map._groupsBySlot[slot] = map._groupsIds[wrong];
      }
      // Issued in one tick, so auto-pipelined together to the wrong master: two different MOVED replies.
      const misrouted = await Promise.allSettled(keys.map((key) => client.set(key, "x", "PX", 10_000)));
      expect(misrouted.map((result) => result.status)).toEqual(["rejected", "rejected"]);

      // Nothing but the client's own periodic read of the map can repair it: MOVED replies that differ within one pipeline are not followed.
      await once(client, "refresh", { signal: AbortSignal.timeout(REDIS_CLUSTER_SLOTS_REFRESH_MS + 2_000) });
      await expect(Promise.all(keys.map((key) => client.set(key, "x", "PX", 10_000)))).resolves.toEqual(["OK", "OK"]);
      await Promise.all(keys.map((key) => client.unlink(key)));
    } finally {
      await closeClient(client);
    }
  });
});

function nodeKey(node: { options: { host?: string; port?: number } }): string {
  return `${node.options.host ?? ""}:${String(node.options.port ?? "")}`;
}

/** A key's slot and the master serving it, by CLUSTER KEYSLOT and CLUSTER SLOTS. */
async function slotOf(client: Cluster, key: string): Promise<{ key: string; slot: number; owner: string }> {
  const slot = await client.cluster("KEYSLOT", key);
  const ranges = (await client.cluster("SLOTS")) as unknown as [number, number, [string, number]][];
  const range = ranges.find(([from, to]) => from <= slot && slot <= to);
  if (range === undefined) throw new Error(`no master serves slot ${String(slot)}`);
  return { key, slot, owner: `${range[2][0]}:${String(range[2][1])}` };
}
