import { describe, expect, it } from "vitest";
import { clusterNodesFromReply } from "./redis-failover.js";

// CLUSTER NODES of the failover cluster after 27011 was killed and 27015 took its slots over.
const AFTER_FAILOVER = [
  "ea7290cc 127.0.0.1:27014@17014 slave 358417c6 0 1796628891109 3 connected",
  "52a4c338 127.0.0.1:27012@17012 myself,master - 0 1796628891000 2 connected 5461-10922",
  "0d1c11d2 127.0.0.1:27015@17015 master - 0 1796628891109 7 connected 0-5460",
  "b191d0b1 127.0.0.1:27011@17011 master,fail - 1796628880736 1796628879731 1 disconnected",
  "358417c6 127.0.0.1:27013@17013 master - 0 1796628890807 3 connected 10923-16382 16383 [16000->-52a4c338]",
  "",
].join("\n");

describe("the failover cluster as CLUSTER NODES shows it", () => {
  it("tells masters, replicas and failed nodes apart, with the slots each master serves", () => {
    const nodes = clusterNodesFromReply(AFTER_FAILOVER);
    expect(nodes.map(({ port, master, failed }) => ({ port, master, failed }))).toEqual([
      { port: 27014, master: false, failed: false },
      { port: 27012, master: true, failed: false },
      { port: 27015, master: true, failed: false },
      { port: 27011, master: true, failed: true },
      { port: 27013, master: true, failed: false },
    ]);
    expect(nodes.find((node) => node.port === 27015)?.slots).toEqual([[0, 5460]]);
    expect(nodes.find((node) => node.port === 27011)?.slots).toEqual([]);
  });

  it("counts single slots and leaves out slots still being migrated", () => {
    const node = clusterNodesFromReply(AFTER_FAILOVER).find((each) => each.port === 27013);
    expect(node?.slots).toEqual([
      [10923, 16382],
      [16383, 16383],
    ]);
  });
});
