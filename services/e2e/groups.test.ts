import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ParleyClient } from "../sdk/index.js";
import type { GroupInfo, Message } from "../protocol/frames.js";
import { EventCollector } from "./support/event-collector.js";
import { platformPerTest } from "./support/test-platform.js";

const start = platformPerTest();
let webhook: Server | undefined;

afterEach(() => {
  webhook?.close();
  webhook = undefined;
});

async function createGroup(owner: ParleyClient, members: string[], name = "team"): Promise<GroupInfo> {
  const first = (await owner.request({ type: "group.create", name, members: members.slice(0, 256) })).group;
  for (let i = 256; i < members.length; i += 256) {
    await owner.request({ type: "group.add", groupId: first.groupId, members: members.slice(i, i + 256) });
  }
  return (await owner.request({ type: "group.info", groupId: first.groupId })).group;
}

/** Every group message a client is pushed, with the tier and arrival time of its frame. */
function collectGroupFrames(client: ParleyClient): { frames: { tier: string; messages: Message[]; at: number }[]; until: (count: number) => Promise<void> } {
  const frames: { tier: string; messages: Message[]; at: number }[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  client.on("groupMessages", (messages, tier) => {
    frames.push({ tier, messages, at: Date.now() });
    const total = frames.reduce((n, f) => n + f.messages.length, 0);
    for (const waiter of waiters.filter((w) => total >= w.count)) waiter.resolve();
  });
  return {
    frames,
    until: (count) =>
      new Promise((resolve) => {
        if (frames.reduce((n, f) => n + f.messages.length, 0) >= count) resolve();
        else waiters.push({ count, resolve });
      }),
  };
}

describe("group membership and roles", () => {
  it("enforces who may add, remove, change roles and leave", async () => {
    const p = await start();
    const [owner, admin, member] = await Promise.all(["olive", "adam", "mia"].map((u) => p.open(u)));
    if (!owner || !admin || !member) throw new Error("clients missing");
    const group = await createGroup(owner, ["adam", "mia"]);
    expect(group).toMatchObject({ memberCount: 3, role: "owner", maxMembers: 10_000 });

    await expect(member.request({ type: "group.add", groupId: group.groupId, members: ["zed"] })).rejects.toMatchObject({ code: "forbidden" });
    await owner.request({ type: "group.role", groupId: group.groupId, userId: "adam", role: "admin" });
    const added = await admin.request({ type: "group.add", groupId: group.groupId, members: ["zed", "yan"] });
    expect(added.group.memberCount).toBe(5);
    await expect(admin.request({ type: "group.remove", groupId: group.groupId, members: ["olive"] })).rejects.toMatchObject({ code: "forbidden" });
    await expect(admin.request({ type: "group.role", groupId: group.groupId, userId: "mia", role: "admin" })).rejects.toMatchObject({ code: "forbidden" });
    await admin.request({ type: "group.remove", groupId: group.groupId, members: ["yan"] });

    await expect(owner.request({ type: "group.leave", groupId: group.groupId })).rejects.toMatchObject({ code: "forbidden" });
    await owner.request({ type: "group.role", groupId: group.groupId, userId: "adam", role: "owner" });
    expect((await owner.request({ type: "group.info", groupId: group.groupId })).group.role).toBe("admin");
    await owner.request({ type: "group.leave", groupId: group.groupId });
    await expect(owner.request({ type: "group.info", groupId: group.groupId })).rejects.toMatchObject({ code: "not_found" });

    const page = await member.request({ type: "group.members", groupId: group.groupId, limit: 2 });
    expect(page.members).toEqual([
      { userId: "adam", role: "owner" },
      { userId: "mia", role: "member" },
    ]);
    expect(page.hasMore).toBe(true);
  });

  it("tells added and removed users through their inbox", async () => {
    const p = await start();
    const owner = await p.open("olive");
    const mia = await p.open("mia");
    const inbox = EventCollector.of(mia);
    const group = await createGroup(owner, ["mia"]);
    await owner.request({ type: "group.remove", groupId: group.groupId, members: ["mia"] });
    const events = await inbox.until((all) => all.length === 2);
    expect(events.map((e) => (e.type === "group" ? [e.group.change, e.group.by] : null))).toEqual([
      ["added", "olive"],
      ["removed", "olive"],
    ]);
  });

  it("refuses to grow a group past its maximum size", async () => {
    const p = await start({ maxGroupMembers: 4 });
    const owner = await p.open("olive");
    await expect(owner.request({ type: "group.create", name: "big", members: ["a", "b", "c", "d"] })).rejects.toMatchObject({ code: "group_full" });
    const group = await createGroup(owner, ["a", "b"]);
    await expect(owner.request({ type: "group.add", groupId: group.groupId, members: ["c", "d"] })).rejects.toMatchObject({ code: "group_full" });
    expect((await owner.request({ type: "group.add", groupId: group.groupId, members: ["c"] })).group.memberCount).toBe(4);
  });
});

describe("group messages", () => {
  it("have one order that every member's devices see, and a retry stores nothing twice", async () => {
    const p = await start();
    const owner = await p.open("olive");
    const mia = await p.open("mia");
    const miaTablet = collectGroupFrames(await p.open("mia", { deviceId: "tablet" }));
    const oliveLaptop = collectGroupFrames(await p.open("olive", { deviceId: "laptop" }));
    const group = await createGroup(owner, ["mia"]);

    const sends = [];
    for (let i = 0; i < 10; i++) sends.push(owner.groups.send(group.groupId, `o${i}`), mia.groups.send(group.groupId, `m${i}`));
    await Promise.all(sends);
    // Raw group.send frames: the SDK's outbox would hide the duplicate flag this test checks.
    const send = { type: "group.send", groupId: group.groupId, clientMessageId: "fixed-id", body: { text: "o0-again" } } as const;
    const retry = await owner.request(send);
    const again = await owner.request(send);
    expect({ message: again.message, duplicate: again.duplicate }).toEqual({ message: retry.message, duplicate: true });

    await miaTablet.until(21);
    await oliveLaptop.until(21);
    const order = (frames: { messages: Message[] }[]): string[] => frames.flatMap((f) => f.messages.map((m) => m.messageId));
    expect(order(miaTablet.frames)).toEqual(order(oliveLaptop.frames));
    expect(miaTablet.frames.flatMap((f) => f.messages.map((m) => m.seq))).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));

    const caughtUp = await mia.request({ type: "history", conversationId: `grp:${group.groupId}`, after: 15 });
    expect(caughtUp.messages.map((m) => m.seq)).toEqual([16, 17, 18, 19, 20, 21]);
  });

  it("are refused to non-members, and a removed member stops receiving at once", async () => {
    const p = await start();
    const owner = await p.open("olive");
    const mia = await p.open("mia");
    const zed = await p.open("zed");
    const miaFrames = collectGroupFrames(mia);
    const zedFrames = collectGroupFrames(zed);
    const zedInbox = EventCollector.of(zed);
    const group = await createGroup(owner, ["mia", "zed"]);
    const stranger = await p.open("stranger");
    await expect(stranger.groups.send(group.groupId, "let me in")).rejects.toMatchObject({ code: "not_found" });
    await expect(stranger.history(`grp:${group.groupId}`)).rejects.toMatchObject({ code: "forbidden" });

    await owner.groups.send(group.groupId, "before");
    await zedFrames.until(1);
    await owner.request({ type: "group.remove", groupId: group.groupId, members: ["zed"] });
    await owner.groups.send(group.groupId, "after");
    await miaFrames.until(2);
    // A direct message after the group message: when it arrives, the group message would have too.
    await owner.send("zed", "sentinel");
    await zedInbox.until((events) => events.some((e) => e.type === "message"));
    expect(zedFrames.frames.flatMap((f) => f.messages.map((m) => m.body.text))).toEqual(["before"]);
    await expect(zed.history(`grp:${group.groupId}`)).rejects.toMatchObject({ code: "forbidden" });
    await expect(zed.groups.send(group.groupId, "still here?")).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("activity-paced fan-out to a 1,000-member group", () => {
  it("pushes to active members at once, batches idle ones after the delay, and notifies offline ones", { timeout: 120_000 }, async () => {
    const notified = new Map<string, number>();
    let notifiedTotal = 0;
    let allNotified: () => void = () => undefined;
    const offlineCount = 499;
    const notifiedAll = new Promise<void>((resolve) => (allNotified = resolve));
    webhook = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        const { userId } = JSON.parse(body) as { userId: string };
        notified.set(userId, (notified.get(userId) ?? 0) + 1);
        response.writeHead(204).end();
        if (++notifiedTotal === offlineCount) allNotified();
      });
    });
    await new Promise<void>((resolve) => webhook?.listen(0, "127.0.0.1", resolve));
    // Long enough that the three sends below, one after another, are held in one batch in
    // the production shape too, where a send takes a few hundred ms on a loaded machine.
    const idleBatchDelayMs = 3_000;
    const p = await start({
      // Connecting scores 2 and typing adds 1: connected members are idle until they do something.
      activeScoreThreshold: 2.5,
      idleBatchDelayMs,
      notifyWebhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/notify`,
      notifyWebhookSecret: "groups-e2e-webhook-secret-of-32-characters",
      notifyMinIntervalMs: 3_600_000,
    });

    const ids = Array.from({ length: 999 }, (_, i) => `m${String(i).padStart(4, "0")}`);
    const active = ids.slice(0, 100);
    const idle = ids.slice(100, 500);
    const offline = ids.slice(500);
    expect(offline.length).toBe(offlineCount);

    const owner = await p.open("owner");
    const group = await createGroup(owner, ids);
    expect(group.memberCount).toBe(1000);
    const conversationId = `grp:${group.groupId}`;

    const connectAll = async (users: string[]): Promise<ParleyClient[]> => {
      const clients: ParleyClient[] = [];
      for (let i = 0; i < users.length; i += 50) clients.push(...(await Promise.all(users.slice(i, i + 50).map((u) => p.open(u, { syncGroups: false, pingIntervalMs: 0 })))));
      return clients;
    };
    const activeClients = await connectAll(active);
    const idleClients = await connectAll(idle);
    await Promise.all(activeClients.map((c) => c.request({ type: "typing", conversationId })));
    const activeFrames = activeClients.map(collectGroupFrames);
    const idleFrames = idleClients.map(collectGroupFrames);

    const sent: Message[] = [];
    for (let i = 0; i < 3; i++) sent.push(await owner.groups.send(group.groupId, `news ${i}`));
    const firstStoredAt = Date.parse(sent[0]?.sentAt ?? "");

    await Promise.all(activeFrames.map((f) => f.until(3)));
    for (const f of activeFrames) {
      expect(f.frames.map((frame) => frame.tier)).toEqual(["realtime", "realtime", "realtime"]);
      expect(f.frames.flatMap((frame) => frame.messages.map((m) => m.seq))).toEqual([1, 2, 3]);
    }

    await Promise.all(idleFrames.map((f) => f.until(3)));
    for (const f of idleFrames) {
      expect(f.frames).toHaveLength(1);
      const [batch] = f.frames;
      expect(batch?.tier).toBe("batched");
      expect(batch?.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
      const delay = (batch?.at ?? 0) - firstStoredAt;
      expect(delay).toBeGreaterThanOrEqual(idleBatchDelayMs);
      expect(delay).toBeLessThan(idleBatchDelayMs + 2_000);
    }

    await notifiedAll;
    expect(notified.size).toBe(offlineCount);
    expect([...notified.values()].every((count) => count === 1)).toBe(true);

    const returning = await p.open(offline[0] ?? "");
    const summary = (await returning.request({ type: "group.list" })).groups;
    expect(summary).toEqual([expect.objectContaining({ groupId: group.groupId, lastSeq: 3, readSeq: 0, unread: 3 })]);
    const missed = await returning.request({ type: "history", conversationId, after: 0 });
    expect(missed.messages.map((m) => m.body.text)).toEqual(["news 0", "news 1", "news 2"]);

    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    expect(metrics).toMatch(/^parley_group_deliveries_total\{tier="realtime"\} 303$/m);
    expect(metrics).toMatch(/^parley_group_deliveries_total\{tier="batched"\} 1200$/m);
    expect(metrics).toMatch(/^parley_group_deliveries_total\{tier="offline"\} 1497$/m);
    expect(metrics).toMatch(/^parley_notifications_total\{outcome="rate_limited"\} 998$/m);
  });
});
