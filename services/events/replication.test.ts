import { describe, expect, it } from "vitest";
import { formatReplication, parseReplication, ReplicationFormatError, type Replication } from "./replication.js";

describe("the replication setting's text form", () => {
  it("reads a factor as SimpleStrategy and data centres with factors as NetworkTopologyStrategy", () => {
    expect(parseReplication("3")).toEqual({ class: "SimpleStrategy", replicationFactor: 3 });
    expect(parseReplication("dc1:3, dc2:2")).toEqual({ class: "NetworkTopologyStrategy", dataCenters: { dc1: 3, dc2: 2 } });
  });

  it("reads back what the operator writes, for either strategy", () => {
    const forms: Replication[] = [
      { class: "SimpleStrategy", replicationFactor: 1 },
      { class: "NetworkTopologyStrategy", dataCenters: { dc2: 3, dc1: 2 } },
    ];
    for (const replication of forms) expect(parseReplication(formatReplication(replication))).toEqual(replication);
  });

  it("writes data centres in name order, so the same spec always gives the same setting", () => {
    expect(formatReplication({ class: "NetworkTopologyStrategy", dataCenters: { dc2: 3, dc1: 2 } })).toBe("dc1:2,dc2:3");
  });

  it.each(["dc1=3", "", "0", "dc1:0", "dc1:3,", "-1"])("refuses %j with a typed error", (text) => {
    expect(() => parseReplication(text)).toThrow(ReplicationFormatError);
  });
});
