import { once } from "node:events";
import { join } from "node:path";
import { ulid } from "ulid";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { ParleyClient } from "../sdk/index.js";
import type { Session } from "../protocol/session.js";
import { SqliteMessageStore } from "../adapters/embedded/sqlite-message-store.js";
import type { PresenceView, ServerFrame } from "../protocol/frames.js";
import { platformPerTest, type TestPlatform } from "./support/test-platform.js";

const start = platformPerTest();

interface Typing {
  conversationId: string;
  userId: string;
}

/** Records a client's presence and typing pushes and lets a test await the ones it expects. */
class Pushes {
  readonly presence: PresenceView[] = [];
  readonly typing: Typing[] = [];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(client: ParleyClient) {
    client.on("presence", (view) => {
      this.presence.push(view);
      this.wake();
    });
    client.on("typing", ({ conversationId, userId }) => {
      this.typing.push({ conversationId, userId });
      this.wake();
    });
  }

  /** Resolves with the first presence push after the first `skip` that matches. */
  async nextPresence(match: Partial<PresenceView>, skip = 0): Promise<PresenceView> {
    const find = (): PresenceView | undefined => this.presence.slice(skip).find((view) => matches(view, match));
    await this.until(() => find() !== undefined);
    return find() as PresenceView;
  }

  async untilTyping(match: Typing): Promise<void> {
    await this.until(() => this.typing.some((t) => t.conversationId === match.conversationId && t.userId === match.userId));
  }

  private until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  private wake(): void {
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.check()) return true;
      waiter.resolve();
      return false;
    });
  }
}

function matches(view: PresenceView, match: Partial<PresenceView>): boolean {
  return Object.entries(match).every(([key, value]) => view[key as keyof PresenceView] === value);
}

async function subscribe(client: ParleyClient, users: string[]): Promise<PresenceView[]> {
  const reply = await client.request({ type: "presence.subscribe", users });
  return reply.users;
}

async function setVisibility(client: ParleyClient, lastSeenVisibility: "everyone" | "contacts" | "nobody"): Promise<void> {
  expect(await client.request({ type: "settings.set", lastSeenVisibility })).toMatchObject({ type: "ok" });
}

/**
 * `from` answers `to` with a direct message written straight to the platform's store, so
 * that the two are contacts (each has written) without `from` ever being seen online.
 */
async function answer(p: TestPlatform, from: string, to: string): Promise<void> {
  const store = new SqliteMessageStore(join(p.dataDir, "messages.db"));
  try {
    await store.appendDirectMessage({ senderId: from, senderDeviceId: "elsewhere", recipientId: to, clientMessageId: ulid(), body: { text: "hi" }, sentAt: new Date() });
  } finally {
    await store.close();
  }
}

/** Resolves when the gateway has seen the connection of `userId` on `deviceId` close. */
function disconnectOf(p: TestPlatform, userId: string, deviceId: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (session: Session): void => {
      if (session.userId !== userId || session.deviceId !== deviceId) return;
      p.gateway.off("disconnect", listener);
      resolve();
    };
    p.gateway.on("disconnect", listener);
  });
}

describe("presence", () => {
  it("shows a conversation partner online while any of their devices is connected, then offline with when last seen", async () => {
    const p = await start();
    const bob = await p.open("bob");
    await bob.send("alice", "hello");
    await answer(p, "alice", "bob");
    const pushes = new Pushes(bob);
    expect(await subscribe(bob, ["alice"])).toEqual([{ userId: "alice", online: false, lastSeen: null }]);

    const phone = await p.open("alice", { deviceId: "phone" });
    const online = await pushes.nextPresence({ userId: "alice", online: true });
    expect(Date.parse(online.lastSeen ?? "")).not.toBeNaN();

    const laptop = await p.open("alice", { deviceId: "laptop" });
    const phoneGone = disconnectOf(p, "alice", "phone");
    await phone.close();
    await phoneGone;
    // Activity of one user is handled in order: once Bob sees this typing, the phone's
    // disconnect has been handled too, and it pushed nothing.
    expect(await laptop.request({ type: "typing", conversationId: "dm:alice:bob" })).toMatchObject({ type: "ok" });
    await pushes.untilTyping({ conversationId: "dm:alice:bob", userId: "alice" });
    expect(pushes.presence).toEqual([online]);

    await laptop.close();
    const offline = await pushes.nextPresence({ userId: "alice", online: false });
    expect(Date.parse(offline.lastSeen ?? "")).toBeGreaterThanOrEqual(Date.parse(online.lastSeen ?? ""));
    expect(pushes.presence).toHaveLength(2);
    expect(await subscribe(bob, ["alice"])).toEqual([offline]);
  });

  it("takes a crashed device offline when its heartbeats stop", async () => {
    const p = await start({ heartbeatIntervalMs: 100 });
    const bob = await p.open("bob");
    await bob.send("alice", "hello");
    await answer(p, "alice", "bob");
    const pushes = new Pushes(bob);
    await subscribe(bob, ["alice"]);

    // A device that stops answering pings, as a crashed phone would: no close frame ever comes.
    const socket = new WebSocket(p.websocketUrl, { headers: { Authorization: `Bearer ${await p.token("alice")}` }, autoPong: false });
    const hello = once(socket, "message");
    await once(socket, "open");
    expect((JSON.parse(String((await hello)[0])) as ServerFrame).type).toBe("hello");
    const online = await pushes.nextPresence({ userId: "alice", online: true });

    const offline = await pushes.nextPresence({ userId: "alice", online: false });
    expect(Date.parse(offline.lastSeen ?? "")).toBeGreaterThanOrEqual(Date.parse(online.lastSeen ?? ""));
    expect(await subscribe(bob, ["alice"])).toEqual([{ userId: "alice", online: false, lastSeen: offline.lastSeen }]);
    socket.terminate();
  });

  it("stops pushing to a subscriber that unsubscribed", async () => {
    const p = await start();
    const bob = await p.open("bob");
    await bob.send("alice", "hello");
    await answer(p, "alice", "bob");
    const pushes = new Pushes(bob);
    await subscribe(bob, ["alice", "carol"]);
    await bob.send("carol", "hello");
    await answer(p, "carol", "bob");
    expect(await bob.request({ type: "presence.unsubscribe", users: ["alice"] })).toMatchObject({ type: "ok" });
    await p.open("alice");
    await p.open("carol");
    await pushes.nextPresence({ userId: "carol", online: true });
    expect(pushes.presence.map((view) => view.userId)).toEqual(["carol"]);
  });
});

describe("last-seen visibility", () => {
  const hidden = { userId: "alice", online: null, lastSeen: null };

  it("is enforced by the server: nobody, contacts, everyone", async () => {
    const p = await start();
    const alice = await p.open("alice");
    const bob = await p.open("bob");
    const carol = await p.open("carol");
    await bob.send("alice", "hello");
    await answer(p, "alice", "bob");
    const carolPushes = new Pushes(carol);
    const bobPushes = new Pushes(bob);

    // Alice always sees herself.
    const [own] = await subscribe(alice, ["alice"]);
    expect(own).toMatchObject({ userId: "alice", online: true });
    const visible = { userId: "alice", online: true, lastSeen: own?.lastSeen };

    await setVisibility(alice, "nobody");
    expect(await subscribe(bob, ["alice"])).toEqual([hidden]);
    expect(await subscribe(alice, ["alice"])).toEqual([visible]);

    // The default: conversation partners only.
    await setVisibility(alice, "contacts");
    expect(await bobPushes.nextPresence({ userId: "alice", online: true })).toEqual(visible);
    expect(await subscribe(bob, ["alice"])).toEqual([visible]);
    expect(await subscribe(carol, ["alice"])).toEqual([hidden]);

    // Carol is subscribed: she is told as soon as she may see.
    await setVisibility(alice, "everyone");
    expect(await carolPushes.nextPresence({ userId: "alice" })).toEqual(visible);
    expect(await subscribe(carol, ["alice"])).toEqual([visible]);

    // And told null as soon as she no longer may; Bob, a contact, still sees.
    await setVisibility(alice, "contacts");
    expect(await carolPushes.nextPresence({ userId: "alice" }, 1)).toEqual(hidden);
    await alice.close();
    const offline = await bobPushes.nextPresence({ userId: "alice", online: false });
    expect(offline.lastSeen).not.toBeNull();
    expect(carolPushes.presence).toEqual([visible, hidden]);
  });

  it("hides transitions from a stranger entirely", async () => {
    const p = await start();
    const bob = await p.open("bob");
    const carol = await p.open("carol");
    await bob.send("alice", "hello");
    await answer(p, "alice", "bob");
    const bobPushes = new Pushes(bob);
    const carolPushes = new Pushes(carol);
    expect(await subscribe(carol, ["alice"])).toEqual([hidden]);
    await subscribe(bob, ["alice"]);
    const alice = await p.open("alice");
    await bobPushes.nextPresence({ userId: "alice", online: true });
    await alice.close();
    await bobPushes.nextPresence({ userId: "alice", online: false });
    // Carol's pushes would have gone out with Bob's; a push to her afterwards marks the end.
    const dave = await p.open("dave");
    expect(await dave.request({ type: "typing", conversationId: "dm:carol:dave" })).toMatchObject({ type: "ok" });
    await carolPushes.untilTyping({ conversationId: "dm:carol:dave", userId: "dave" });
    expect(carolPushes.presence).toEqual([]);
  });
});

describe("typing", () => {
  it("reaches the other participant of a direct conversation, not a stranger, and is never stored", async () => {
    const p = await start();
    const alice = await p.open("alice");
    const bob = await p.open("bob");
    const carol = await p.open("carol");
    await alice.send("bob", "hi");
    const alicePushes = new Pushes(alice);
    const bobPushes = new Pushes(bob);
    const carolPushes = new Pushes(carol);

    expect(await alice.request({ type: "typing", conversationId: "dm:alice:bob" })).toMatchObject({ type: "ok" });
    await bobPushes.untilTyping({ conversationId: "dm:alice:bob", userId: "alice" });
    // Alice's typing is handled in order: once Carol has this one, she would have had the first.
    await alice.request({ type: "typing", conversationId: "dm:alice:carol" });
    await carolPushes.untilTyping({ conversationId: "dm:alice:carol", userId: "alice" });
    expect(carolPushes.typing).toEqual([{ conversationId: "dm:alice:carol", userId: "alice" }]);

    // Carol does not take part in dm:alice:bob: her typing there reaches no one.
    expect(await carol.request({ type: "typing", conversationId: "dm:alice:bob" })).toMatchObject({ type: "ok" });
    await carol.request({ type: "typing", conversationId: "dm:bob:carol" });
    await bobPushes.untilTyping({ conversationId: "dm:bob:carol", userId: "carol" });
    expect(bobPushes.typing).toEqual([
      { conversationId: "dm:alice:bob", userId: "alice" },
      { conversationId: "dm:bob:carol", userId: "carol" },
    ]);
    expect(alicePushes.typing).toEqual([]);

    const batch = await bob.request({ type: "sync", after: 0, limit: 200 });
    expect(batch.events.map((e) => e.type)).toEqual(["message"]);
    const history = await bob.history("dm:alice:bob");
    expect(history.messages.map((m) => m.body.text)).toEqual(["hi"]);
  });
});
