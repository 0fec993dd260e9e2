import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TokenAuthority } from "../auth/tokens.js";
import type { Message } from "../protocol/frames.js";
import { memoryStorage, type ParleyClient } from "../sdk/index.js";
import { startParleyProcess, type ChildPlatform } from "./support/child-platform.js";
import { EventCollector } from "./support/event-collector.js";
import { backendEnv, infraS3Client } from "./support/serve-run.js";
import { openSdkClient, type OpenOptions } from "./support/test-platform.js";
import { Kafka, logLevel } from "kafkajs";
import { connectTestClient, dropKeyspace } from "../adapters/cassandra/testing/test-keyspace.js";
import { CassandraMessageStore } from "../adapters/cassandra/cassandra-message-store.js";
import { deleteGroupsWithPrefix, deleteTopicsWithPrefix } from "../adapters/kafka/topic-admin.js";
import { png } from "../assets/testing/media-fixtures.js";

/**
 * The production shape: two gateways and N processes (replicas) of each service, on the
 * real Kafka, Cassandra, Redis and S3 (hack/infra.sh), talking only through them. Every
 * case runs at 1 replica and at 2 (the MessagingCluster CRD's default, ADR 0011): at 2, a
 * service's requests, activity and group topics are split between its replicas, and
 * which replica handles a user or a group follows Kafka's assignment, so a case here may
 * stay on one replica (assets alone are sent through both). The paths between replicas
 * are forced by services/chaos/replica-kill.test.ts, whose users are chosen one per
 * partition, and by the shared-state contract tests (ADR 0011).
 */
const REPLICA_COUNTS = [1, 2] as const;
const SERVICES = ["chat", "groups", "presence", "assets"] as const;
type Service = (typeof SERVICES)[number];

/** One cluster of processes under its own name, keyspace and bucket. */
class Shape {
  readonly run = randomBytes(4).toString("hex");
  readonly tokens: TokenAuthority;
  readonly env: Record<string, string>;
  readonly processes: ChildPlatform[] = [];
  readonly clients: ParleyClient[] = [];
  readonly replicasOf = new Map<Service, ChildPlatform[]>();
  gatewayA!: ChildPlatform;
  gatewayB!: ChildPlatform;
  /** Each process's log, for a post-mortem when a test here fails. */
  readonly logDir = mkdtempSync(join(tmpdir(), `parley-multi-process-${this.run}-`));

  constructor(readonly replicas: number) {
    const jwtSecret = `multi-process-test-secret-${randomBytes(16).toString("hex")}`;
    this.tokens = new TokenAuthority(jwtSecret);
    this.env = {
      PARLEY_CLUSTER: `e2e${this.run}`,
      PARLEY_JWT_SECRET: jwtSecret,
      ...backendEnv(),
      PARLEY_CASSANDRA_KEYSPACE: `parley_e2e_${this.run}`,
      PARLEY_S3_BUCKET: `parley-e2e-${this.run}`,
      PARLEY_SHUTDOWN_GRACE_MS: "2000",
      PARLEY_FRAMES_PER_SECOND: "1000",
      PARLEY_FRAME_BURST: "1000",
    };
  }

  /** Replica `n` (from 1) of a service: at 1 replica, every n is the one process. */
  replica(service: Service, n: number): ChildPlatform {
    const all = this.replicasOf.get(service) ?? [];
    const child = all[(n - 1) % all.length];
    if (child === undefined) throw new Error(`no ${service} process`);
    return child;
  }

  async startAll(): Promise<void> {
    // The first service creates the keyspace, tables and bucket; the rest start on them.
    const first = await this.start("chat", 1);
    this.replicasOf.set("chat", [first]);
    const starting = SERVICES.flatMap((service) =>
      Array.from({ length: this.replicas }, (_, i) => i + 1)
        .filter((n) => service !== "chat" || n > 1)
        .map(async (n) => {
          const child = await this.start(service, n);
          const all = this.replicasOf.get(service) ?? [];
          all[n - 1] = child;
          this.replicasOf.set(service, all);
        }),
    );
    [this.gatewayA, this.gatewayB] = await Promise.all([
      this.startProcess(["serve", "gateway"], "gateway-a", { PARLEY_GATEWAY_ID: `gw-a-${this.run}` }),
      this.startProcess(["serve", "gateway"], "gateway-b", { PARLEY_GATEWAY_ID: `gw-b-${this.run}` }),
      ...starting,
    ]);
  }

  async connect(gateway: ChildPlatform, userId: string, options: OpenOptions = {}): Promise<ParleyClient> {
    const client = await openSdkClient(gateway.websocketUrl, await this.tokens.issue(userId, 600), options);
    this.clients.push(client);
    return client;
  }

  async stopAll(): Promise<void> {
    for (const client of this.clients) client.close().catch(() => undefined);
    for (const child of this.processes) child.process.kill("SIGTERM");
    await Promise.all(this.processes.map((child) => child.exited));
    await this.removeRunState();
    process.stderr.write(`multi-process test (${String(this.replicas)} per service): process logs in ${this.logDir}\n`);
  }

  private start(service: Service, n: number): Promise<ChildPlatform> {
    return this.startProcess(["serve", service], `${service}-${String(n)}`);
  }

  private async startProcess(args: string[], name: string, extra: Record<string, string> = {}): Promise<ChildPlatform> {
    const child = await startParleyProcess(args, { ...this.env, ...extra }, join(this.logDir, `${name}.log`));
    this.processes.push(child);
    return child;
  }

  /** Drops what this run created on the shared servers: keyspace, topics and groups, bucket. */
  private async removeRunState(): Promise<void> {
    const env = this.env;
    const cassandra = await connectTestClient();
    await dropKeyspace(cassandra, env.PARLEY_CASSANDRA_KEYSPACE ?? "");
    await cassandra.shutdown();
    const admin = new Kafka({ clientId: "e2e-cleanup", brokers: (env.PARLEY_KAFKA_BROKERS ?? "").split(","), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await deleteGroupsWithPrefix(admin, `parley.${env.PARLEY_CLUSTER ?? ""}.`);
    await deleteTopicsWithPrefix(admin, `parley.${env.PARLEY_CLUSTER ?? ""}.`);
    await admin.disconnect();
    const s3 = infraS3Client();
    const bucket = env.PARLEY_S3_BUCKET ?? "";
    const names: string[] = [];
    for await (const item of s3.client.listObjectsV2(bucket, "", true) as AsyncIterable<{ name?: string }>) if (item.name) names.push(item.name);
    if (names.length > 0) await s3.client.removeObjects(bucket, names);
    await s3.client.removeBucket(bucket);
    s3.agent.destroy();
  }
}

describe.each(REPLICA_COUNTS)("services in separate processes on the real back ends, %i replica(s) of each", { timeout: 60_000 }, (replicas) => {
  const shape = new Shape(replicas);
  const connect = (gateway: ChildPlatform, userId: string, options: OpenOptions = {}): Promise<ParleyClient> => shape.connect(gateway, userId, options);
  const env = shape.env;
  const tokens = shape.tokens;

  beforeAll(() => shape.startAll(), 180_000);
  afterAll(() => shape.stopAll(), 60_000);

  it("carries a direct message and its receipts between users on different gateways", async () => {
    const alice = await connect(shape.gatewayA, "alice");
    const bobInbox = new EventCollector();
    const bob = await connect(shape.gatewayB, "bob", { onEvent: bobInbox.record });
    const aliceInbox = EventCollector.of(alice);
    const message = await alice.send("bob", "across gateways");
    const [received] = await bobInbox.untilMessages(1);
    expect(received).toEqual(message);
    await bob.receipt(message.conversationId, "read", message.seq);
    const events = await aliceInbox.until((all) => all.some((e) => e.type === "receipt"));
    expect(events.find((e) => e.type === "receipt")).toMatchObject({ receipt: { userId: "bob", kind: "read", upToSeq: message.seq } });
  });

  it("has no dev sign-in endpoint on a gateway of parley serve", async () => {
    // POST /v1/dev/token signs anyone in by name: only parley dev may offer it. Here it is
    // answered as a path that does not exist is.
    const post = async (path: string) => {
      const response = await fetch(`${shape.gatewayA.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "mallory" }) });
      return { status: response.status, body: await response.text() };
    };
    const devToken = await post("/v1/dev/token");
    expect(devToken.status).toBeGreaterThanOrEqual(400);
    expect(devToken).toEqual(await post("/v1/no-such-endpoint"));
  });

  it("shows the lag of a service's Kafka consumer groups on its /metrics, 0 once it has caught up", async () => {
    const sender = await connect(shape.gatewayA, "lena");
    const recipient = EventCollector.of(await connect(shape.gatewayB, "omar"));
    await sender.send("omar", "counted in the lag");
    await recipient.untilMessages(1);
    // The chat process consumes the chat requests (and its other topics) in groups of the cluster.
    const chat = shape.replica("chat", 1);
    const caughtUp = new RegExp(`^parley_kafka_consumer_lag\\{group="parley\\.${env.PARLEY_CLUSTER ?? ""}\\.[^"]+@[^"]+"\\} 0$`, "m");
    await vi.waitFor(async () => {
      expect(await (await fetch(`${chat.url}/metrics`)).text()).toMatch(caughtUp);
    });
  });

  it("fans a group message out to members on both gateways", async () => {
    const owner = await connect(shape.gatewayA, "olive");
    const onA = await connect(shape.gatewayA, "mia");
    const onB = await connect(shape.gatewayB, "zed");
    const group = (await owner.request({ type: "group.create", name: "cross", members: ["mia", "zed"] })).group;
    const seen = [onA, onB].map(
      (client) =>
        new Promise<Message[]>((resolve) => {
          client.once("groupMessages", resolve);
        }),
    );
    const message = await owner.groups.send(group.groupId, "hello both gateways");
    for (const messages of await Promise.all(seen)) expect(messages.map((m) => m.messageId)).toEqual([message.messageId]);
  });

  it("pushes presence across processes", async () => {
    const carol = await connect(shape.gatewayA, "carol");
    await carol.send("dave", "are you there?");
    // Dave answers straight in the store, so that they are contacts (each has written to
    // the other) while he has not been seen online yet.
    const cassandra = await connectTestClient();
    try {
      const store = new CassandraMessageStore(cassandra, { keyspace: env.PARLEY_CASSANDRA_KEYSPACE ?? "" });
      await store.appendDirectMessage({ senderId: "dave", senderDeviceId: "elsewhere", recipientId: "carol", clientMessageId: "dave-answers", body: { text: "yes" }, sentAt: new Date() });
    } finally {
      await cassandra.shutdown();
    }
    const state = (await carol.request({ type: "presence.subscribe", users: ["dave"] }));
    expect(state.users).toEqual([{ userId: "dave", online: false, lastSeen: null }]);
    const online = new Promise((resolve) => carol.once("presence", resolve));
    await connect(shape.gatewayB, "dave");
    expect(await online).toMatchObject({ userId: "dave", online: true });
  });

  it("stores an asset in S3 through one assets process and lets only the recipient fetch it, through another", async () => {
    // Replicas 1 and 2 (the one process at 1 replica): stored state is S3's and Cassandra's, not a process's.
    const uploadVia = shape.replica("assets", 1);
    const readVia = shape.replica("assets", 2);
    const image = png();
    const upload = await fetch(`${uploadVia.url}/v1/assets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokens.issue("erin", 600)}`, "Content-Type": "image/png" },
      body: image,
    });
    expect(upload.status).toBe(201);
    const { assetId } = (await upload.json()) as { assetId: string };
    const erin = await connect(shape.gatewayA, "erin");
    await erin.request({ type: "send", to: "frank", clientMessageId: `asset-${shape.run}`, body: { assets: [assetId] } });

    const link = async (userId: string): Promise<Response> =>
      fetch(`${readVia.url}/v1/assets/${assetId}/link`, { method: "POST", headers: { Authorization: `Bearer ${await tokens.issue(userId, 600)}` } });
    const granted = await link("frank");
    expect(granted.status).toBe(200);
    const { url } = (await granted.json()) as { url: string };
    const download = await fetch(new URL(url, readVia.url));
    expect(download.status).toBe(200);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(new Uint8Array(image));
    expect((await link("mallory")).status).toBe(404);
  });

  it("moves clients of a stopped gateway to the other one, which syncs them with nothing lost", async () => {
    // Ann's device keeps its state (the inbox cursor) from one connection to the next.
    const annStorage = memoryStorage();
    const ann = await connect(shape.gatewayA, "ann", { storage: annStorage });
    const ben = await connect(shape.gatewayB, "ben");
    const annInbox = EventCollector.of(ann);
    await ben.send("ann", "before");
    await annInbox.untilMessages(1);

    const told = ann.next("reconnect");
    shape.gatewayA.process.kill("SIGTERM");
    expect((await told)[0].retryAfterMs).toBeGreaterThanOrEqual(0);
    expect(await shape.gatewayA.exited).toBe(0);

    const missed: Message[] = [];
    for (let i = 0; i < 5; i++) missed.push(await ben.send("ann", `during ${i}`));
    const again = new EventCollector();
    await connect(shape.gatewayB, "ann", { storage: annStorage, onEvent: again.record });
    expect(again.messages.map((m) => m.messageId)).toEqual(missed.map((m) => m.messageId));
    const live = await ben.send("ann", "after");
    expect((await again.untilMessages(6))[5]?.messageId).toBe(live.messageId);
  });
});
