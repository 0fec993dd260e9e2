/**
 * The failover cluster of `hack/servers/redis.sh up failover` (three masters, one replica
 * each) as the redis-cluster-failover scenario sees it: which master holds the scenario's
 * users' keys, and when a replica has taken over its slots. Read from the nodes' own
 * CLUSTER NODES and CLUSTER INFO, one plain connection per node.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

export const REDIS_FAILOVER_PORTS = [27011, 27012, 27013, 27014, 27015, 27016] as const;
export const REDIS_FAILOVER_NODES = REDIS_FAILOVER_PORTS.map((port) => `127.0.0.1:${port}`).join(",");

const POLL_MS = 100;

export interface ClusterNode {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  /** Slot ranges it serves, [first, last] inclusive. */
  slots: [number, number][];
}

/** Runs one command on one node; undefined when the node does not answer (it is the one killed, or still starting). */
async function ask(port: number, command: string, ...args: string[]): Promise<string | undefined> {
  const redis = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000, commandTimeout: 1_000 });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return String(await redis.call(command, ...args));
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** CLUSTER NODES as one node sees the cluster. */
export function clusterNodesFromReply(text: string): ClusterNode[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      // <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot> <slot> ...
      const [id = "", address = "", flags = "", , , , , , ...slots] = line.split(" ");
      const flagList = flags.split(",");
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        master: flagList.includes("master"),
        failed: flagList.includes("fail"),
        // Slots being migrated ("[...]") are not served yet: left out.
        slots: slots.filter((slot) => !slot.startsWith("[")).map((slot) => {
          const [first, last = first] = slot.split("-").map(Number) as [number, number?];
          return [first, last] as [number, number];
        }),
      };
    });
}

async function nodesSeenBy(port: number): Promise<ClusterNode[] | undefined> {
  const text = await ask(port, "CLUSTER", "NODES");
  return text === undefined ? undefined : clusterNodesFromReply(text);
}

function owner(nodes: readonly ClusterNode[], slot: number): ClusterNode | undefined {
  return nodes.find((node) => node.master && !node.failed && node.slots.some(([first, last]) => first <= slot && slot <= last));
}

/** The master that serves the most of these hash tags' slots (the users' keys: `{<userId>}`), as the first answering node sees it. */
export async function masterOfMostTags(tags: readonly string[]): Promise<{ node: ClusterNode; slots: number[] }> {
  for (const port of REDIS_FAILOVER_PORTS) {
    const nodes = await nodesSeenBy(port);
    if (nodes === undefined) continue;
    const slots = await Promise.all(tags.map(async (tag) => Number(await ask(port, "CLUSTER", "KEYSLOT", `{${tag}}`))));
    const counts = new Map<ClusterNode, number[]>();
    for (const slot of slots) {
      const master = owner(nodes, slot);
      if (master !== undefined) counts.set(master, [...(counts.get(master) ?? []), slot]);
    }
    const [best] = [...counts].sort((a, b) => b[1].length - a[1].length);
    if (best !== undefined) return { node: best[0], slots: best[1] };
  }
  throw new Error(`no node of the failover cluster (${REDIS_FAILOVER_NODES}) answers with a master serving the slots of ${tags.join(", ")}`);
}

/**
 * Resolves with the node that took over `slot` from `dead` once every other node reports
 * cluster_state:ok and the same live master for it, other than `dead`: the replica's
 * promotion is known to the whole cluster, so clients are redirected to it from any node.
 */
export async function promotedFor(dead: ClusterNode, slot: number, timeoutMs: number): Promise<ClusterNode> {
  const until = performance.now() + timeoutMs;
  const others = REDIS_FAILOVER_PORTS.filter((port) => port !== dead.port);
  while (performance.now() < until) {
    const views = await Promise.all(
      others.map(async (port) => {
        const [info, nodes] = await Promise.all([ask(port, "CLUSTER", "INFO"), nodesSeenBy(port)]);
        return info?.includes("cluster_state:ok") === true && nodes !== undefined ? owner(nodes, slot) : undefined;
      }),
    );
    const [first] = views;
    if (first !== undefined && first.id !== dead.id && views.every((view) => view?.id === first.id)) return first;
    // Polled: the cluster announces a failover to its own bus, not to a client.
    await sleep(POLL_MS);
  }
  throw new Error(`no replica took over slot ${slot} from 127.0.0.1:${dead.port} within ${timeoutMs} ms`);
}

/** The role of a node by its INFO replication: "master", "slave" or undefined when it does not answer. */
export async function roleOf(port: number): Promise<string | undefined> {
  const info = await ask(port, "INFO", "replication");
  return info === undefined ? undefined : /^role:(\w+)/m.exec(info)?.[1];
}
