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
import { openSdkClient, type OpenOptions } from "./support/test-platform.js";
import { infraEndpoint } from "../testing/infra.js";
import { Kafka, logLevel } from "kafkajs";
import { connectTestClient, dropKeyspace } from "../adapters/cassandra/testing/test-keyspace.js";
import { CassandraMessageStore } from "../adapters/cassandra/cassandra-message-store.js";
import { deleteGroupsWithPrefix, deleteTopicsWithPrefix } from "../adapters/kafka/topic-admin.js";
import { createS3Client } from "../adapters/s3/s3-blob-store.js";
import { png } from "../assets/testing/media-fixtures.js";

/**
 * The production shape: two gateways and one process of each service, on the real
 * Kafka, Cassandra, Redis and S3 (hack/infra.sh), talking only through them.
 */
const run = randomBytes(4).toString("hex");
const jwtSecret = `multi-process-test-secret-${randomBytes(16).toString("hex")}`;
const tokens = new TokenAuthority(jwtSecret);
const env: Record<string, string> = {
  PARLEY_CLUSTER: `e2e${run}`,
  PARLEY_JWT_SECRET: jwtSecret,
  PARLEY_KAFKA_BROKERS: infraEndpoint("PARLEY_TEST_KAFKA_BROKERS"),
  PARLEY_KAFKA_PARTITIONS: "3",
  PARLEY_KAFKA_REPLICATION_FACTOR: "1",
  PARLEY_CASSANDRA_CONTACT_POINTS: infraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS"),
  PARLEY_CASSANDRA_LOCAL_DC: infraEndpoint("PARLEY_TEST_CASSANDRA_DC"),
  PARLEY_CASSANDRA_KEYSPACE: `parley_e2e_${run}`,
  PARLEY_CASSANDRA_REPLICATION: "1",
  PARLEY_REDIS_URL: infraEndpoint("PARLEY_TEST_REDIS_URL"),
  PARLEY_S3_ENDPOINT: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"),
  PARLEY_S3_ACCESS_KEY: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
  PARLEY_S3_SECRET_KEY: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
  PARLEY_S3_REGION: infraEndpoint("PARLEY_TEST_S3_REGION"),
  PARLEY_S3_BUCKET: `parley-e2e-${run}`,
  PARLEY_SHUTDOWN_GRACE_MS: "2000",
  PARLEY_FRAMES_PER_SECOND: "1000",
  PARLEY_FRAME_BURST: "1000",
};

const processes: ChildPlatform[] = [];
const clients: ParleyClient[] = [];
let gatewayA: ChildPlatform;
let gatewayB: ChildPlatform;
let assets: ChildPlatform;
let chat: ChildPlatform;

/** Each process's log, for a post-mortem when a test here fails. */
const logDir = mkdtempSync(join(tmpdir(), `parley-multi-process-${run}-`));

async function start(args: string[], extra: Record<string, string> = {}): Promise<ChildPlatform> {
  const name = [...args.slice(1), extra.PARLEY_GATEWAY_ID ?? ""].filter(Boolean).join("-");
  const child = await startParleyProcess(args, { ...env, ...extra }, join(logDir, `${name}.log`));
  processes.push(child);
  return child;
}

async function connect(gateway: ChildPlatform, userId: string, options: OpenOptions = {}): Promise<ParleyClient> {
  const client = await openSdkClient(gateway.websocketUrl, await tokens.issue(userId, 600), options);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  // The first service creates the keyspace, tables and bucket; the rest start on them.
  chat = await start(["serve", "chat"]);
  [, , assets, gatewayA, gatewayB] = await Promise.all([
    start(["serve", "groups"]),
    start(["serve", "presence"]),
    start(["serve", "assets"]),
    start(["serve", "gateway"], { PARLEY_GATEWAY_ID: `gw-a-${run}` }),
    start(["serve", "gateway"], { PARLEY_GATEWAY_ID: `gw-b-${run}` }),
  ]);
}, 180_000);

afterAll(async () => {
  for (const client of clients) client.close().catch(() => undefined);
  for (const child of processes) child.process.kill("SIGTERM");
  await Promise.all(processes.map((child) => child.exited));
  await removeRunState();
  process.stderr.write(`multi-process test: process logs in ${logDir}\n`);
}, 60_000);

/** Drops what this run created on the shared servers: keyspace, topics and groups, bucket. */
async function removeRunState(): Promise<void> {
  const cassandra = await connectTestClient();
  await dropKeyspace(cassandra, env.PARLEY_CASSANDRA_KEYSPACE ?? "");
  await cassandra.shutdown();
  const admin = new Kafka({ clientId: "e2e-cleanup", brokers: (env.PARLEY_KAFKA_BROKERS ?? "").split(","), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await deleteGroupsWithPrefix(admin, `parley.${env.PARLEY_CLUSTER ?? ""}.`);
  await deleteTopicsWithPrefix(admin, `parley.${env.PARLEY_CLUSTER ?? ""}.`);
  await admin.disconnect();
  const s3 = createS3Client({
    endPoint: env.PARLEY_S3_ENDPOINT ?? "",
    accessKey: env.PARLEY_S3_ACCESS_KEY ?? "",
    secretKey: env.PARLEY_S3_SECRET_KEY ?? "",
    region: env.PARLEY_S3_REGION ?? "",
  });
  const bucket = env.PARLEY_S3_BUCKET ?? "";
  const names: string[] = [];
  for await (const item of s3.client.listObjectsV2(bucket, "", true) as AsyncIterable<{ name?: string }>) if (item.name) names.push(item.name);
  if (names.length > 0) await s3.client.removeObjects(bucket, names);
  await s3.client.removeBucket(bucket);
  s3.agent.destroy();
}

describe("services in separate processes on the real back ends", { timeout: 60_000 }, () => {
  it("carries a direct message and its receipts between users on different gateways", async () => {
    const alice = await connect(gatewayA, "alice");
    const bobInbox = new EventCollector();
    const bob = await connect(gatewayB, "bob", { onEvent: bobInbox.record });
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
      const response = await fetch(`${gatewayA.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "mallory" }) });
      return { status: response.status, body: await response.text() };
    };
    const devToken = await post("/v1/dev/token");
    expect(devToken.status).toBeGreaterThanOrEqual(400);
    expect(devToken).toEqual(await post("/v1/no-such-endpoint"));
  });

  it("shows the lag of a service's Kafka consumer groups on its /metrics, 0 once it has caught up", async () => {
    const sender = await connect(gatewayA, "lena");
    const recipient = EventCollector.of(await connect(gatewayB, "omar"));
    await sender.send("omar", "counted in the lag");
    await recipient.untilMessages(1);
    // The chat process consumes the chat requests (and its other topics) in groups of the cluster.
    const caughtUp = new RegExp(`^parley_kafka_consumer_lag\\{group="parley\\.${env.PARLEY_CLUSTER ?? ""}\\.[^"]+@[^"]+"\\} 0$`, "m");
    await vi.waitFor(async () => {
      expect(await (await fetch(`${chat.url}/metrics`)).text()).toMatch(caughtUp);
    });
  });

  it("fans a group message out to members on both gateways", async () => {
    const owner = await connect(gatewayA, "olive");
    const onA = await connect(gatewayA, "mia");
    const onB = await connect(gatewayB, "zed");
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
    const carol = await connect(gatewayA, "carol");
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
    await connect(gatewayB, "dave");
    expect(await online).toMatchObject({ userId: "dave", online: true });
  });

  it("stores an asset in S3 through the assets process and lets only the recipient fetch it", async () => {
    const image = png();
    const upload = await fetch(`${assets.url}/v1/assets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokens.issue("erin", 600)}`, "Content-Type": "image/png" },
      body: image,
    });
    expect(upload.status).toBe(201);
    const { assetId } = (await upload.json()) as { assetId: string };
    const erin = await connect(gatewayA, "erin");
    await erin.request({ type: "send", to: "frank", clientMessageId: `asset-${run}`, body: { assets: [assetId] } });

    const link = async (userId: string): Promise<Response> =>
      fetch(`${assets.url}/v1/assets/${assetId}/link`, { method: "POST", headers: { Authorization: `Bearer ${await tokens.issue(userId, 600)}` } });
    const granted = await link("frank");
    expect(granted.status).toBe(200);
    const { url } = (await granted.json()) as { url: string };
    const download = await fetch(new URL(url, assets.url));
    expect(download.status).toBe(200);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(new Uint8Array(image));
    expect((await link("mallory")).status).toBe(404);
  });

  it("moves clients of a stopped gateway to the other one, which syncs them with nothing lost", async () => {
    // Ann's device keeps its state (the inbox cursor) from one connection to the next.
    const annStorage = memoryStorage();
    const ann = await connect(gatewayA, "ann", { storage: annStorage });
    const ben = await connect(gatewayB, "ben");
    const annInbox = EventCollector.of(ann);
    await ben.send("ann", "before");
    await annInbox.untilMessages(1);

    const told = ann.next("reconnect");
    gatewayA.process.kill("SIGTERM");
    expect((await told)[0].retryAfterMs).toBeGreaterThanOrEqual(0);
    expect(await gatewayA.exited).toBe(0);

    const missed: Message[] = [];
    for (let i = 0; i < 5; i++) missed.push(await ben.send("ann", `during ${i}`));
    const again = new EventCollector();
    await connect(gatewayB, "ann", { storage: annStorage, onEvent: again.record });
    expect(again.messages.map((m) => m.messageId)).toEqual(missed.map((m) => m.messageId));
    const live = await ben.send("ann", "after");
    expect((await again.untilMessages(6))[5]?.messageId).toBe(live.messageId);
  });
});
