import { beforeEach, describe, expect, it } from "vitest";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { MemoryDeliveryChannel } from "../adapters/embedded/memory-delivery-channel.js";
import { DeliveryEnvelope } from "../events/delivery-envelope.js";
import type { DeviceRoute } from "../ports/connection-registry.js";
import type { PushFrame } from "../protocol/frames.js";
import { DeliveryRouter } from "./delivery-router.js";

const TTL_MS = 60_000;
const FRAME: PushFrame = { type: "typing", conversationId: "dm:ann:bob", userId: "ann" };

function route(userId: string, connectionId: string, gatewayId: string): DeviceRoute {
  return { userId, deviceId: `device-${connectionId}`, connectionId, gatewayId };
}

let registry: MemoryConnectionRegistry;
let channel: MemoryDeliveryChannel;
let router: DeliveryRouter;
/** What each gateway was sent, in order. */
let received: Map<string, DeliveryEnvelope[]>;

beforeEach(async () => {
  registry = new MemoryConnectionRegistry();
  channel = new MemoryDeliveryChannel();
  router = new DeliveryRouter(registry, channel);
  received = new Map();
  for (const gatewayId of ["gw-1", "gw-2", "gw-3"]) {
    received.set(gatewayId, []);
    await channel.listen(gatewayId, (value) => {
      received.get(gatewayId)?.push(DeliveryEnvelope.parse(value));
    });
  }
});

function sentTo(gatewayId: string): { connectionIds: string[]; storedAt?: number }[] {
  return (received.get(gatewayId) ?? []).map(({ connectionIds, storedAt }) => ({ connectionIds: [...connectionIds].sort(), ...(storedAt === undefined ? {} : { storedAt }) }));
}

describe("DeliveryRouter", () => {
  it("sends one envelope per gateway, carrying every connection of the routes on that gateway", async () => {
    const routes = [route("ann", "c1", "gw-1"), route("bob", "c2", "gw-2"), route("ann", "c3", "gw-2"), route("cid", "c4", "gw-1"), route("bob", "c5", "gw-1")];
    const count = await router.pushToRoutes(routes, FRAME, 1234);
    expect(count).toBe(5);
    expect(sentTo("gw-1")).toEqual([{ connectionIds: ["c1", "c4", "c5"], storedAt: 1234 }]);
    expect(sentTo("gw-2")).toEqual([{ connectionIds: ["c2", "c3"], storedAt: 1234 }]);
    expect(sentTo("gw-3")).toEqual([]);
    expect(received.get("gw-1")?.[0]?.frame).toEqual(FRAME);
  });

  it("sends nothing for no routes", async () => {
    expect(await router.pushToRoutes([], FRAME)).toBe(0);
    expect([...received.values()].flat()).toEqual([]);
  });

  it("leaves out when the content was stored for ephemeral frames", async () => {
    await router.pushToRoutes([route("ann", "c1", "gw-1")], FRAME);
    expect(received.get("gw-1")?.[0]).not.toHaveProperty("storedAt");
  });

  it("finds a user's connected devices in the registry and reaches them with one envelope per gateway", async () => {
    for (const r of [route("ann", "c1", "gw-1"), route("ann", "c2", "gw-3"), route("ann", "c3", "gw-1"), route("bob", "c4", "gw-2")]) await registry.register(r, TTL_MS);
    expect(await router.pushToUser("ann", FRAME)).toBe(3);
    expect(sentTo("gw-1")).toEqual([{ connectionIds: ["c1", "c3"] }]);
    expect(sentTo("gw-3")).toEqual([{ connectionIds: ["c2"] }]);
    expect(sentTo("gw-2")).toEqual([]);
  });

  it("pushes nothing to a user with no connected device", async () => {
    expect(await router.pushToUser("nobody", FRAME)).toBe(0);
    expect([...received.values()].flat()).toEqual([]);
  });

  it("pushes each stored inbox event to its own user's devices, stamped with when it was stored", async () => {
    await registry.register(route("ann", "c1", "gw-1"), TTL_MS);
    await registry.register(route("bob", "c2", "gw-2"), TTL_MS);
    const storedAt = new Date(Date.UTC(2030, 0, 1));
    const event = { cursor: 7, type: "receipt" as const, receipt: { conversationId: "dm:ann:bob", userId: "bob", kind: "read" as const, upToSeq: 3, at: storedAt.toISOString() } };
    await router.deliverInboxEvents(
      [
        { userId: "ann", event },
        { userId: "bob", event: { ...event, cursor: 9 } },
      ],
      storedAt,
    );
    expect(received.get("gw-1")).toEqual([{ connectionIds: ["c1"], storedAt: storedAt.getTime(), frame: { type: "event", event } }]);
    expect(received.get("gw-2")).toEqual([{ connectionIds: ["c2"], storedAt: storedAt.getTime(), frame: { type: "event", event: { ...event, cursor: 9 } } }]);
  });
});
