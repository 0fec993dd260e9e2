import { describe, expect, it } from "vitest";
import { checkUserLimits, LocalUserConnections } from "./user-limits.js";

const limits = { maxConnectionsPerUser: 3, maxDevicesPerUser: 2 };
const held = (...devices: string[]): { connectionId: string; deviceId: string }[] => devices.map((deviceId, i) => ({ connectionId: `c${i}`, deviceId }));

describe("checkUserLimits", () => {
  it("lets a connection in below both caps", () => {
    expect(checkUserLimits(held("phone"), "laptop", limits)).toBeNull();
  });

  it("refuses the connection past the per-user cap, naming the limit", () => {
    expect(checkUserLimits(held("phone", "phone", "laptop"), "phone", limits)).toEqual({
      limit: "connections_per_user",
      max: 3,
      message: "too many connections for this user: at most 3; close one first",
    });
  });

  it("refuses a new device past the device cap", () => {
    expect(checkUserLimits(held("phone", "laptop"), "tablet", limits)).toMatchObject({ limit: "devices_per_user", max: 2 });
  });

  it("lets an already connected device open another connection at the device cap", () => {
    expect(checkUserLimits(held("phone", "laptop"), "laptop", limits)).toBeNull();
  });
});

describe("LocalUserConnections", () => {
  it("counts a user's held connections, except the one asking", () => {
    const local = new LocalUserConnections();
    local.hold("alice", "c1", "phone");
    local.hold("alice", "c2", "laptop");
    local.hold("bob", "c3", "phone");
    expect(local.heldBy("alice", "c2")).toEqual([{ connectionId: "c1", deviceId: "phone" }]);
    expect(local.heldBy("alice", "none")).toHaveLength(2);
  });

  it("stops counting a released connection, and releasing twice is harmless", () => {
    const local = new LocalUserConnections();
    local.hold("alice", "c1", "phone");
    local.release("alice", "c1");
    local.release("alice", "c1");
    local.release("nobody", "c9");
    expect(local.heldBy("alice", "none")).toEqual([]);
  });
});
