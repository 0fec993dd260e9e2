import { describe, expect, it } from "vitest";
import { png } from "../assets/testing/media-fixtures.js";
import { platformPerTest } from "../e2e/support/test-platform.js";
import * as protocol from "../protocol/frames.js";
import { BEARER_SUBPROTOCOL_PREFIX, PROTOCOL_SUBPROTOCOL } from "./index.js";
import { collect, sdkClientsPerTest } from "./testing/sdk-clients.js";

const startPlatform = platformPerTest();
const clients = sdkClientsPerTest();

describe("SDK typed events and helpers", () => {
  it("uses the protocol's subprotocol names (kept as copies so browsers need no zod)", () => {
    expect(PROTOCOL_SUBPROTOCOL).toBe(protocol.PROTOCOL_SUBPROTOCOL);
    expect(BEARER_SUBPROTOCOL_PREFIX).toBe(protocol.BEARER_SUBPROTOCOL_PREFIX);
  });

  it("reports receipts, typing and presence as typed events", async () => {
    const platform = await startPlatform();
    const alice = await clients.open(platform, "alice");
    const bob = await clients.open(platform, "bob");
    await bob.presence.setLastSeenVisibility("everyone");
    const watched = await alice.presence.subscribe(["bob"]);
    expect(watched.map((p) => [p.userId, p.online])).toEqual([["bob", true]]);

    const typing = alice.next("typing");
    await bob.typing("dm:alice:bob");
    expect((await typing)[0]).toEqual({ conversationId: "dm:alice:bob", userId: "bob" });

    const message = await alice.send("bob", "read me");
    const receipt = alice.next("receipt");
    await bob.markRead(message.conversationId, message.seq);
    expect((await receipt)[0]).toMatchObject({ conversationId: "dm:alice:bob", userId: "bob", kind: "read", upToSeq: message.seq });

    const bobOffline = alice.next("presence");
    await bob.close();
    expect((await bobOffline)[0]).toMatchObject({ userId: "bob", online: false });
  });

  it("runs a group: membership events, each group message once, roles and removal", async () => {
    const platform = await startPlatform();
    const alice = await clients.open(platform, "alice");
    const bob = await clients.open(platform, "bob");
    const bobGroupEvents = collect(bob, "group");
    const bobMessages = collect(bob, "message");

    const group = await alice.groups.create("team", ["bob"]);
    expect(group).toMatchObject({ name: "team", role: "owner", memberCount: 2 });
    await bobGroupEvents.until(1);
    expect(bobGroupEvents.items[0]?.[0]).toMatchObject({ groupId: group.groupId, change: "added", role: "member" });

    await alice.groups.send(group.groupId, "hello team");
    await alice.groups.send(group.groupId, "second");
    await bobMessages.until(2);
    expect(bobMessages.items.map(([m]) => [m.groupId, m.seq, m.body.text])).toEqual([
      [group.groupId, 1, "hello team"],
      [group.groupId, 2, "second"],
    ]);

    expect((await alice.groups.setRole(group.groupId, "bob", "admin")).memberCount).toBe(2);
    expect((await bob.groups.list()).map((g) => [g.groupId, g.role, g.unread])).toEqual([[group.groupId, "admin", 2]]);
    expect((await alice.groups.members(group.groupId)).members).toEqual([
      { userId: "alice", role: "owner" },
      { userId: "bob", role: "admin" },
    ]);
    await alice.groups.remove(group.groupId, ["bob"]);
    await bobGroupEvents.until(3);
    expect(bobGroupEvents.items.map(([change]) => change.change)).toEqual(["added", "role", "removed"]);
  });

  it("catches up on group messages posted while the client was away", async () => {
    const platform = await startPlatform();
    const alice = await clients.open(platform, "alice");
    const bob = await clients.open(platform, "bob");
    const group = await alice.groups.create("team", ["bob"]);
    const firstSeen = collect(bob, "message");
    await alice.groups.send(group.groupId, "before");
    await firstSeen.until(1);
    await bob.close();

    await alice.groups.send(group.groupId, "while away 1");
    await alice.groups.send(group.groupId, "while away 2");
    const caughtUp = collect(bob, "message");
    await bob.connect();
    expect(caughtUp.items.map(([m]) => m.body.text)).toEqual(["while away 1", "while away 2"]);
  });

  it("uploads an image, shares it in a message, and the recipient downloads the same bytes", async () => {
    const platform = await startPlatform();
    const alice = await clients.open(platform, "alice");
    const bob = await clients.open(platform, "bob");
    const bytes = png(4, 4, 7);
    const progress: number[] = [];
    const asset = await alice.assets.upload(bytes, { onProgress: (sent, total) => progress.push(sent / total) });
    expect(asset).toMatchObject({ contentType: "image/png", size: bytes.length });
    expect(progress.at(-1)).toBe(1);

    const received = bob.next("message");
    await alice.send("bob", { text: "look", assets: [asset.assetId] });
    const [message] = await received;
    const blob = await bob.assets.download(message.body.assets?.[0] ?? "");
    expect(blob.type).toBe("image/png");
    expect(Buffer.from(await blob.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    const { url } = await bob.assets.link(asset.assetId);
    expect(url.startsWith(platform.url)).toBe(true);
  });

  it("rejects a refused request with a typed ParleyError and a refused send leaves the outbox", async () => {
    const platform = await startPlatform();
    const alice = await clients.open(platform, "alice");
    await expect(alice.groups.info("g01M8GV5RAYM56AX8ENK84KMF2Q")).rejects.toMatchObject({ name: "ParleyError", code: "not_found" });
    const failed = alice.next("sendFailed");
    await expect(alice.send("bob", { assets: ["a01JDZ8K3M4N5P6Q7R8S9T0V1WX"] })).rejects.toMatchObject({ code: "not_found" });
    expect((await failed)[1].code).toBe("not_found");
    expect(await alice.pendingSends()).toEqual([]);
  });
});
