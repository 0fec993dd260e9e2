import type { ConnectionState, GroupMembershipChange, GroupRole, Message, MessageBody, ParleyClient, PresenceView, Receipt } from "../../sdk/index";

/** A file being sent: shown in its message, with progress, until the server has it. */
export interface Upload {
  name: string;
  type: string;
  /** A blob: URL of the local file, for the preview. */
  previewUrl: string;
  sent: number;
  total: number;
}

/** A message the server has not acknowledged yet (uploading, or waiting for the connection). */
export interface PendingMessage {
  clientMessageId: string;
  text: string;
  uploads: Upload[];
  queuedAt: string;
  error?: string;
}

export interface Conversation {
  id: string;
  kind: "dm" | "group";
  /** The other user of a direct conversation (you, for notes to self). */
  peer: string | null;
  groupId: string | null;
  name: string;
  /** Your role in a group. */
  role: GroupRole | null;
  /** You were removed from (or left) this group: what you had stays readable. */
  removed: boolean;
  /** Ascending by seq, no repeats; may start after seq 1 (older pages load on scroll). */
  messages: Message[];
  pending: PendingMessage[];
  /** Your own read mark. */
  readSeq: number;
  /** Your own delivered mark. */
  deliveredSeq: number;
  /** The other user's marks, in a direct conversation: the ticks on your messages. */
  peerDeliveredSeq: number;
  peerReadSeq: number;
}

/** What the page knows about a file in a message. */
export interface LocalAsset {
  url: string;
  type: string;
  name: string;
}

const TYPING_SHOWN_MS = 5_000;
const TYPING_SEND_EVERY_MS = 3_000;
const PAGE_SIZE = 50;

/**
 * Everything the messenger shows, kept up to date from the SDK's events. Components read
 * it directly and re-render on `subscribe`; they change it only through its methods.
 */
export class ChatStore {
  readonly conversations = new Map<string, Conversation>();
  readonly presence = new Map<string, PresenceView>();
  /** Per conversation: who is typing, until when (ms since the epoch). */
  readonly typing = new Map<string, Map<string, number>>();
  /** Files this page uploaded, shown from memory instead of downloaded again. */
  readonly localAssets = new Map<string, LocalAsset>();
  connection: ConnectionState = "idle";
  /** The first catch-up after signing in is done. */
  synced = false;
  openId: string | null = null;

  private readonly listeners = new Set<() => void>();
  private notifyQueued = false;
  private acknowledgeQueued = false;
  private readonly watched = new Set<string>();
  private readonly requested = { read: new Map<string, number>(), delivered: new Map<string, number>() };
  private readonly typingSentAt = new Map<string, number>();

  constructor(
    readonly me: string,
    readonly client: ParleyClient,
  ) {
    client.on("state", (state) => {
      this.connection = state;
      this.changed();
    });
    client.on("open", () => {
      void this.refreshGroups();
      void this.subscribePresence([...this.watched]);
    });
    client.on("synced", () => {
      this.synced = true;
      this.queueAcknowledge();
      this.changed();
    });
    client.on("message", (message) => {
      this.addMessages([message]);
    });
    client.on("receipt", (receipt) => {
      this.onReceipt(receipt);
    });
    client.on("group", (change) => {
      this.onGroupChange(change);
    });
    client.on("presence", (view) => {
      this.presence.set(view.userId, view);
      this.changed();
    });
    client.on("typing", ({ conversationId, userId }) => {
      this.onTyping(conversationId, userId);
    });
    document.addEventListener("visibilitychange", () => {
      this.queueAcknowledge();
    });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Connects, and keeps reconnecting until stop(); the connection state shows how it goes. */
  start(): void {
    this.client.connect().catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.client.close();
  }

  // ---- what the screens read -----------------------------------------------------------

  /** Newest activity first. */
  list(): Conversation[] {
    return [...this.conversations.values()].sort((a, b) => lastActivity(b).localeCompare(lastActivity(a)));
  }

  unread(conversation: Conversation): number {
    return conversation.messages.filter((m) => m.seq > conversation.readSeq && m.senderId !== this.me).length;
  }

  typingIn(conversationId: string): string[] {
    const now = Date.now();
    return [...(this.typing.get(conversationId) ?? new Map<string, number>())].filter(([, until]) => until > now).map(([user]) => user);
  }

  /** The tick of one of your messages: what the other user's marks say of it. */
  tick(conversation: Conversation, message: Message): "sent" | "delivered" | "read" {
    if (conversation.kind === "dm" && conversation.peerReadSeq >= message.seq) return "read";
    if (conversation.kind === "dm" && conversation.peerDeliveredSeq >= message.seq) return "delivered";
    return "sent";
  }

  // ---- what the user does ----------------------------------------------------------------

  open(conversationId: string | null): void {
    this.openId = conversationId;
    const conversation = conversationId === null ? undefined : this.conversations.get(conversationId);
    if (conversation?.peer) void this.subscribePresence([conversation.peer]);
    this.queueAcknowledge();
    this.changed();
  }

  /** Opens the direct conversation with `userId`, a new one if there was none. */
  startDirect(userId: string): void {
    const id = `dm:${[this.me, userId].sort().join(":")}`;
    this.ensure(id);
    this.open(id);
  }

  async createGroup(name: string, members: string[]): Promise<void> {
    const group = await this.client.groups.create(name, members);
    const conversation = this.ensure(`grp:${group.groupId}`);
    conversation.name = group.name;
    conversation.role = group.role;
    this.open(conversation.id);
  }

  /** Sends text and files: the files upload first (with progress), then the message goes through the SDK's outbox. */
  async send(conversationId: string, text: string, files: readonly File[]): Promise<void> {
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    const clientMessageId = newId();
    const pending: PendingMessage = {
      clientMessageId,
      text,
      queuedAt: new Date().toISOString(),
      uploads: files.map((file) => ({ name: file.name, type: file.type, previewUrl: URL.createObjectURL(file), sent: 0, total: file.size })),
    };
    conversation.pending.push(pending);
    this.changed();
    try {
      const assets: string[] = [];
      for (const [index, file] of files.entries()) {
        const upload = pending.uploads[index] as Upload;
        const asset = await this.client.assets.upload(file, {
          onProgress: (sent) => {
            upload.sent = sent;
            this.changed();
          },
        });
        this.localAssets.set(asset.assetId, { url: upload.previewUrl, type: asset.contentType, name: file.name });
        assets.push(asset.assetId);
      }
      const body: MessageBody = { ...(text ? { text } : {}), ...(assets.length > 0 ? { assets } : {}) };
      const message = conversation.groupId
        ? await this.client.groups.send(conversation.groupId, body, { clientMessageId })
        : await this.client.send(conversation.peer ?? this.me, body, { clientMessageId });
      this.addMessages([message]);
    } catch (error) {
      pending.error = error instanceof Error ? error.message : String(error);
      this.changed();
    }
  }

  /** Call on every keystroke: tells the others at most every few seconds. */
  typed(conversationId: string): void {
    const now = Date.now();
    if (now - (this.typingSentAt.get(conversationId) ?? 0) < TYPING_SEND_EVERY_MS || this.connection !== "open") return;
    this.typingSentAt.set(conversationId, now);
    this.client.typing(conversationId).catch(() => undefined);
  }

  /** Loads the page of messages before the oldest one shown; false when there is none. */
  async loadOlder(conversationId: string): Promise<boolean> {
    const conversation = this.conversations.get(conversationId);
    const oldest = conversation?.messages[0]?.seq;
    if (!conversation || oldest === undefined || oldest <= 1) return false;
    const page = await this.client.history(conversationId, { before: oldest, limit: PAGE_SIZE });
    this.addMessages(page.messages);
    return page.messages.length > 0;
  }

  /** Shows these users' presence wherever they appear (they may hide it: see docs/protocol.md section 18). */
  watch(users: readonly string[]): void {
    void this.subscribePresence(users.filter((user) => !this.watched.has(user)));
  }

  async setLastSeenVisibility(visibility: "everyone" | "contacts" | "nobody"): Promise<void> {
    await this.client.presence.setLastSeenVisibility(visibility);
  }

  async members(groupId: string): Promise<{ userId: string; role: GroupRole }[]> {
    const all: { userId: string; role: GroupRole }[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.client.groups.members(groupId, after === undefined ? {} : { after });
      all.push(...page.members);
      after = page.members.at(-1)?.userId;
      if (!page.hasMore || after === undefined) return all;
    }
  }

  async addMembers(groupId: string, members: string[]): Promise<void> {
    await this.client.groups.add(groupId, members);
  }

  async removeMember(groupId: string, userId: string): Promise<void> {
    await this.client.groups.remove(groupId, [userId]);
  }

  async setRole(groupId: string, userId: string, role: GroupRole): Promise<void> {
    const group = await this.client.groups.setRole(groupId, userId, role);
    this.ensure(`grp:${groupId}`).role = group.role;
    this.changed();
  }

  async leave(groupId: string): Promise<void> {
    await this.client.groups.leave(groupId);
  }

  // ---- what the server says ----------------------------------------------------------------

  private addMessages(messages: readonly Message[]): void {
    for (const message of messages) {
      const conversation = this.ensure(message.conversationId);
      insertBySeq(conversation.messages, message);
      if (message.senderId === this.me) conversation.pending = conversation.pending.filter((p) => p.clientMessageId !== message.clientMessageId);
      else this.typing.get(conversation.id)?.delete(message.senderId);
      // Two users become contacts, and so see each other's presence, once both have written.
      if (conversation.peer && this.presence.get(conversation.peer)?.online == null) void this.subscribePresence([conversation.peer]);
    }
    this.queueAcknowledge();
    this.changed();
  }

  private onReceipt(receipt: Receipt): void {
    const conversation = this.ensure(receipt.conversationId);
    if (receipt.userId === this.me) {
      if (receipt.kind === "read") conversation.readSeq = Math.max(conversation.readSeq, receipt.upToSeq);
      conversation.deliveredSeq = Math.max(conversation.deliveredSeq, receipt.upToSeq);
    } else {
      if (receipt.kind === "read") conversation.peerReadSeq = Math.max(conversation.peerReadSeq, receipt.upToSeq);
      conversation.peerDeliveredSeq = Math.max(conversation.peerDeliveredSeq, receipt.upToSeq);
    }
    this.changed();
  }

  private onGroupChange(change: GroupMembershipChange): void {
    const conversation = this.ensure(`grp:${change.groupId}`);
    conversation.role = change.role;
    conversation.removed = change.change === "removed";
    if (change.change === "added") void this.refreshGroup(change.groupId);
    this.changed();
  }

  private onTyping(conversationId: string, userId: string): void {
    const typing = this.typing.get(conversationId) ?? new Map<string, number>();
    typing.set(userId, Date.now() + TYPING_SHOWN_MS);
    this.typing.set(conversationId, typing);
    setTimeout(() => {
      this.changed();
    }, TYPING_SHOWN_MS + 50);
    this.changed();
  }

  /** Names, roles and read marks of every group you are in; groups you left are marked so. */
  private async refreshGroups(): Promise<void> {
    try {
      const groups = await this.client.groups.list();
      const current = new Set(groups.map((g) => `grp:${g.groupId}`));
      for (const summary of groups) {
        const conversation = this.ensure(`grp:${summary.groupId}`);
        conversation.name = summary.name;
        conversation.role = summary.role;
        conversation.removed = false;
        conversation.readSeq = Math.max(conversation.readSeq, summary.readSeq);
      }
      for (const conversation of this.conversations.values()) {
        if (conversation.kind === "group" && !current.has(conversation.id)) conversation.removed = true;
      }
      this.changed();
    } catch {
      // Disconnected meanwhile: the next connection refreshes again.
    }
  }

  private async refreshGroup(groupId: string): Promise<void> {
    try {
      const group = await this.client.groups.info(groupId);
      const conversation = this.ensure(`grp:${groupId}`);
      conversation.name = group.name;
      conversation.role = group.role;
      this.changed();
    } catch {
      // Removed again since, or disconnected: refreshGroups on the next connection settles it.
    }
  }

  private async subscribePresence(users: string[]): Promise<void> {
    const others = users.filter((user) => user !== this.me);
    for (const user of others) this.watched.add(user);
    if (others.length === 0 || this.connection !== "open") return;
    try {
      for (let i = 0; i < others.length; i += 100) {
        for (const view of await this.client.presence.subscribe(others.slice(i, i + 100))) this.presence.set(view.userId, view);
      }
      this.changed();
    } catch {
      // Subscriptions belong to a connection: the next one subscribes again.
    }
  }

  /** After new messages, a reconnection or the page coming into view: delivered and read marks. */
  private queueAcknowledge(): void {
    if (this.acknowledgeQueued) return;
    this.acknowledgeQueued = true;
    queueMicrotask(() => {
      this.acknowledgeQueued = false;
      this.acknowledge();
    });
  }

  private acknowledge(): void {
    if (this.connection !== "open") return;
    for (const conversation of this.conversations.values()) {
      if (conversation.removed) continue;
      const last = conversation.messages.at(-1)?.seq ?? 0;
      const lastFromOthers = conversation.messages.findLast((m) => m.senderId !== this.me)?.seq ?? 0;
      if (conversation.kind === "dm" && lastFromOthers > conversation.deliveredSeq) this.mark(conversation.id, "delivered", lastFromOthers);
      const seen = conversation.id === this.openId && document.visibilityState === "visible";
      if (seen && last > conversation.readSeq) this.mark(conversation.id, "read", last);
    }
  }

  private mark(conversationId: string, kind: "read" | "delivered", upToSeq: number): void {
    const requested = this.requested[kind];
    if ((requested.get(conversationId) ?? 0) >= upToSeq) return;
    requested.set(conversationId, upToSeq);
    // The receipt comes back as an inbox event, which moves the mark; a failed one is asked again later.
    this.client.receipt(conversationId, kind, upToSeq).catch(() => requested.delete(conversationId));
  }

  private ensure(conversationId: string): Conversation {
    let conversation = this.conversations.get(conversationId);
    if (!conversation) {
      const group = conversationId.startsWith("grp:");
      const peer = group ? null : (conversationId.split(":").slice(1).find((user) => user !== this.me) ?? this.me);
      conversation = {
        id: conversationId,
        kind: group ? "group" : "dm",
        peer,
        groupId: group ? conversationId.slice(4) : null,
        name: peer ?? "Group",
        role: null,
        removed: false,
        messages: [],
        pending: [],
        readSeq: 0,
        deliveredSeq: 0,
        peerDeliveredSeq: 0,
        peerReadSeq: 0,
      };
      this.conversations.set(conversationId, conversation);
      if (peer !== null) void this.subscribePresence([peer]);
    }
    return conversation;
  }

  private changed(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const listener of this.listeners) listener();
    });
  }
}

function insertBySeq(messages: Message[], message: Message): void {
  let index = messages.length;
  while (index > 0 && (messages[index - 1] as Message).seq > message.seq) index--;
  if (messages[index - 1]?.seq === message.seq) return;
  messages.splice(index, 0, message);
}

/** ISO 8601 strings of one format compare as their times do. */
function lastActivity(conversation: Conversation): string {
  const pending = conversation.pending.at(-1)?.queuedAt ?? "";
  const stored = conversation.messages.at(-1)?.sentAt ?? "";
  return pending > stored ? pending : stored;
}

function newId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
