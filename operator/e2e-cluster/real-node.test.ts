import { randomBytes, randomUUID } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TokenAuthority } from "../../services/auth/tokens.js";
import { memoryStorage, type ParleyClient, type ParleyStorage } from "../../services/sdk/index.js";
import { openSdkClient, type OpenOptions } from "../../services/e2e/support/test-platform.js";
import type { Message } from "../../services/protocol/frames.js";
import { EventCollector } from "../../services/e2e/support/event-collector.js";
import { png } from "../../services/assets/testing/media-fixtures.js";
import { infraEndpoint } from "../../services/testing/infra.js";
import { connectTestClient } from "../../services/adapters/cassandra/testing/test-keyspace.js";
import { createS3Client } from "../../services/adapters/s3/s3-blob-store.js";
import { Kafka, logLevel } from "kafkajs";
import { ClusterTools, clusterEnv } from "./support/cluster-tools.js";

/**
 * Parley on a real node (hack/cluster: kubelet, containerd, kube-proxy), no fake kubelet:
 * the chart installed with helm runs the operator as a pod under its ServiceAccount, the
 * operator's Deployments run the image built from images/Dockerfile, and WebSocket clients
 * reach the gateways through their NodePort Service. The back ends are the host's shared
 * servers (hack/infra.sh), which pods reach at the node's address.
 * `make e2e-cluster` builds the images and passes their tags.
 */
const CHART = fileURLToPath(new URL("../../charts/parley", import.meta.url));
const imageTag = requiredEnv("PARLEY_E2E_IMAGE_TAG");
const upgradeTag = requiredEnv("PARLEY_E2E_UPGRADE_TAG");
const run = randomBytes(3).toString("hex");
const namespace = `chat-${run}`;
// One release name and namespace for every run: the chart keeps its CRD on uninstall
// (crds.keep), owned by the release that installed it, and only a release of the same name
// and namespace can take it over at the next install.
const operatorNamespace = "parley-system";
const release = "parley";
const jwtSecret = `cluster-e2e-secret-${randomBytes(16).toString("hex")}`;
const tokens = new TokenAuthority(jwtSecret);
const SERVICES = ["gateway", "chat", "groups", "presence", "assets"] as const;
const MINUTE = 60_000;

const tools = new ClusterTools(clusterEnv());
const node = tools.env.nodeAddress;
const timings: string[] = [];
/** Emits "change" when a message is acknowledged or a client is back: what untilCount waits on. */
const progress = new EventEmitter();
const roamingUsers: RoamingUser[] = [];
const clients: ParleyClient[] = [];
let gatewayUrl = "";
let assetsUrl = "";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests with 'make e2e-cluster', which builds the images and sets it`);
  return value;
}

function record(what: string, startedAt: number): void {
  timings.push(`${what}: ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
}

/** The shared broker's listener for pods (hack/servers/kafka.sh), which advertises the node address. */
function kafkaForPods(): string {
  try {
    return infraEndpoint("PARLEY_TEST_KAFKA_POD_BROKERS");
  } catch (error) {
    throw new Error(
      "the shared Kafka has no listener for pods: it was started before hack/servers/kafka.sh had one; restart it when nobody else is testing (hack/servers/kafka.sh down && hack/infra.sh up)",
      { cause: error },
    );
  }
}

/** host:port as pods reach it: the node's address, with the port of the host's server. */
function atNode(endpoint: string): string {
  const port = new URL(endpoint.includes("://") ? endpoint : `tcp://${endpoint}`).port;
  return `${node}:${port}`;
}

function messagingCluster(tag: string, settings: Record<string, string> = {}) {
  return {
    apiVersion: "messaging.parley.io/v1alpha1",
    kind: "MessagingCluster",
    metadata: { name: "chat" },
    spec: {
      image: { repository: "parley", tag, pullPolicy: "Never" },
      jwtSecret: { secretKeyRef: { name: "parley-credentials", key: "jwt-secret" } },
      // Two gateways: one can go while clients move to the other. One pod of the rest:
      // the node has two shared cores.
      gateway: { replicas: 2, serviceType: "NodePort", settings: { PARLEY_SHUTDOWN_GRACE_MS: "2000", ...settings } },
      chat: { replicas: 1 },
      groups: { replicas: 1 },
      presence: { replicas: 1 },
      assets: { replicas: 1 },
      kafka: { bootstrapServers: [kafkaForPods()], partitions: 3, replicationFactor: 1, topicPrefix: `parley.e2ec${run}.` },
      cassandra: {
        contactPoints: [atNode(infraEndpoint("PARLEY_TEST_CASSANDRA_CONTACT_POINTS"))],
        localDataCenter: infraEndpoint("PARLEY_TEST_CASSANDRA_DC"),
        keyspace: `parley_e2ec_${run}`,
        replication: { class: "SimpleStrategy", replicationFactor: 1 },
      },
      redis: { url: `redis://${atNode(infraEndpoint("PARLEY_TEST_REDIS_URL"))}` },
      objectStorage: {
        endpoint: `http://${atNode(infraEndpoint("PARLEY_TEST_S3_ENDPOINT"))}`,
        region: infraEndpoint("PARLEY_TEST_S3_REGION"),
        bucket: `parley-e2ec-${run}`,
        accessKey: { secretKeyRef: { name: "parley-credentials", key: "s3-access-key" } },
        secretKey: { secretKeyRef: { name: "parley-credentials", key: "s3-secret-key" } },
      },
      reclaimPolicy: "Delete",
    },
  };
}

interface Pod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { serviceAccountName?: string };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

async function pods(ns: string, selector: string): Promise<Pod[]> {
  return (await tools.json<{ items: Pod[] }>(["get", "pods", "-n", ns, "-l", selector])).items;
}

const isReady = (pod: Pod): boolean => pod.status.phase === "Running" && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

async function rolledOut(ns: string, deployment: string, timeout = "300s"): Promise<void> {
  await tools.kubectl(["rollout", "status", "-n", ns, `deployment/${deployment}`, `--timeout=${timeout}`]);
}

/**
 * Closes every client. Roaming users are stopped and awaited: one still on its way back
 * from a previous test's move would otherwise connect afterwards and be counted by the
 * autoscaler for the rest of the run.
 */
async function closeAllClients(): Promise<void> {
  await Promise.all(roamingUsers.splice(0).map((user) => user.stop()));
  await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
}

/** An SDK client through the gateway Service; it does not reconnect by itself (RoamingUser does, through the Service). */
async function connect(userId: string, options: OpenOptions = {}): Promise<ParleyClient> {
  const client = await openSdkClient(gatewayUrl, await tokens.issue(userId, 600), options);
  client.on("error", () => undefined);
  clients.push(client);
  return client;
}

/** Open connections per gateway pod, from each pod's /metrics (pod IPs route from the node). */
async function connectionsByPod(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const pod of await pods(namespace, "app.kubernetes.io/instance=chat,app.kubernetes.io/component=gateway")) {
    // A pod being removed may still say Ready while it closes its port.
    if (!isReady(pod) || pod.metadata.deletionTimestamp || !pod.status.podIP) continue;
    const text = await (await fetch(`http://${pod.status.podIP}:8080/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith("parley_gateway_connections"));
    counts.set(pod.metadata.name, Number(line?.split(" ").at(-1) ?? 0));
  }
  return counts;
}

beforeAll(async () => {
  // What an interrupted run may have left installed.
  await tools.helm(["uninstall", release, "--namespace", operatorNamespace, "--ignore-not-found", "--wait"]);
  const started = performance.now();
  await tools.helm([
    "install", release, CHART, "--namespace", operatorNamespace, "--create-namespace",
    "--set", `image.tag=${imageTag}`, "--set", "image.pullPolicy=Never", "--set", "replicaCount=1",
    "--wait", "--timeout", "5m",
  ]);
  record("helm install → operator Ready", started);
}, 6 * MINUTE);

afterAll(async () => {
  await closeAllClients();
  // What a failed run leaves is removed too; each step may find its object gone already.
  await tools.kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=180s"]).catch(() => undefined);
  await tools.helm(["uninstall", release, "--namespace", operatorNamespace, "--ignore-not-found", "--wait"]).catch(() => undefined);
  process.stdout.write(`\nreal-node timings (run ${run}):\n  ${timings.join("\n  ")}\n`);
}, 5 * MINUTE);

describe("Parley on a real Kubernetes node", { timeout: 6 * MINUTE }, () => {
  it("runs the operator from the chart as a pod under the chart's ServiceAccount", async () => {
    const [operator, ...more] = await pods(operatorNamespace, `app.kubernetes.io/instance=${release}`);
    expect(more).toEqual([]);
    expect(operator && isReady(operator)).toBe(true);
    const accounts = await tools.json<{ items: { metadata: { name: string } }[] }>(["get", "serviceaccounts", "-n", operatorNamespace, "-l", `app.kubernetes.io/instance=${release}`]);
    expect(accounts.items.map((account) => account.metadata.name)).toEqual([operator?.spec.serviceAccountName]);
  });

  it("ships the CycloneDX SBOM of the image's modules inside the image, for scanners", async () => {
    const [operator] = await pods(operatorNamespace, `app.kubernetes.io/instance=${release}`);
    const bom = JSON.parse(await tools.kubectl(["exec", "-n", operatorNamespace, operator?.metadata.name ?? "", "--", "cat", "/app/dist/sbom.cdx.json"])) as {
      bomFormat: string;
      components: { name: string }[];
    };
    expect(bom.bomFormat).toBe("CycloneDX");
    expect(bom.components.map((component) => component.name)).toEqual(expect.arrayContaining(["ws", "kafkajs", "cassandra-driver", "ioredis", "minio"]));
  });

  it("brings every Deployment of a MessagingCluster on the host's back ends to Running and Ready pods", async () => {
    await tools.kubectl(["create", "namespace", namespace]);
    const started = performance.now();
    await tools.apply(namespace, [
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "parley-credentials" },
        type: "Opaque",
        stringData: {
          "jwt-secret": jwtSecret,
          "s3-access-key": infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
          "s3-secret-key": infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
        },
      },
      messagingCluster(imageTag),
    ]);
    await tools.kubectl(["wait", "-n", namespace, "--for=condition=Ready", "messagingcluster/chat", "--timeout=300s"]);
    for (const service of SERVICES) await rolledOut(namespace, `chat-${service}`);
    record("MessagingCluster applied → all pods Ready", started);
    const all = await pods(namespace, "app.kubernetes.io/instance=chat");
    expect(all.map((pod) => [pod.metadata.labels?.["app.kubernetes.io/component"], isReady(pod)]).sort()).toEqual(
      [["assets", true], ["chat", true], ["gateway", true], ["gateway", true], ["groups", true], ["presence", true]],
    );

    const gatewayService = await tools.json<{ spec: { ports: { nodePort?: number }[] } }>(["get", "service", "-n", namespace, "chat-gateway"]);
    const nodePort = gatewayService.spec.ports[0]?.nodePort;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    gatewayUrl = `ws://${node}:${String(nodePort)}/ws`;
    const assetsService = await tools.json<{ spec: { clusterIP: string } }>(["get", "service", "-n", namespace, "chat-assets"]);
    assetsUrl = `http://${assetsService.spec.clusterIP}`;
  });

  it("carries 1:1 messages and receipts between clients connected through the gateway NodePort", async () => {
    const alice = await connect("alice");
    const bobInbox = new EventCollector();
    const bob = await connect("bob", { onEvent: bobInbox.record });
    const aliceInbox = EventCollector.of(alice);
    const message = await alice.send("bob", "through a real node");
    expect((await bobInbox.untilMessages(1))[0]).toEqual(message);
    await bob.receipt(message.conversationId, "read", message.seq);
    const events = await aliceInbox.until((all) => all.some((e) => e.type === "receipt"));
    expect(events.find((e) => e.type === "receipt")).toMatchObject({ receipt: { userId: "bob", kind: "read", upToSeq: message.seq } });
  });

  it("fans a group message out to every member", async () => {
    const owner = await connect("olive");
    const members = await Promise.all(["mia", "zed", "kai"].map((user) => connect(user)));
    const group = await owner.groups.create("real node", ["mia", "zed", "kai"]);
    const seen = members.map((client) => new Promise<Message[]>((resolve) => client.once("groupMessages", resolve)));
    const message = await owner.groups.send(group.groupId, "hello, members");
    for (const messages of await Promise.all(seen)) expect(messages.map((m) => m.messageId)).toEqual([message.messageId]);
  });

  it("pushes presence of a contact coming online", async () => {
    const carol = await connect("carol");
    await carol.send("dave", "are you there?");
    const dave = await connect("dave");
    await dave.send("carol", "yes");
    await dave.close();
    // Every push about Dave, from before the subscription: one may share a packet with its reply.
    const daveOnline: (boolean | null)[] = [];
    const stop = carol.on("presence", (presence) => {
      if (presence.userId !== "dave") return;
      daveOnline.push(presence.online);
      progress.emit("change");
    });
    const states = await carol.presence.subscribe(["dave"]);
    expect(states[0]).toMatchObject({ userId: "dave" });
    // Dave's going offline travels on the activity topic and may be handled after the
    // subscription: then Carol is told of it as a flip. Awaited, so the push below is the
    // one of Dave coming back.
    await untilCount(() => ((daveOnline.at(-1) ?? states[0]?.online) === false ? 1 : 0), 1);
    const before = daveOnline.length;
    await connect("dave");
    await untilCount(() => (daveOnline.slice(before).includes(true) ? 1 : 0), 1);
    stop();
  });

  it("stores an asset through the assets Service and lets only the recipient fetch it", async () => {
    const image = png();
    const upload = await fetch(`${assetsUrl}/v1/assets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokens.issue("erin", 600)}`, "Content-Type": "image/png" },
      body: image,
    });
    expect(upload.status).toBe(201);
    const { assetId } = (await upload.json()) as { assetId: string };
    const erin = await connect("erin");
    await erin.request({ type: "send", to: "frank", clientMessageId: `asset-${run}`, body: { assets: [assetId] } });
    const link = async (userId: string): Promise<Response> =>
      fetch(`${assetsUrl}/v1/assets/${assetId}/link`, { method: "POST", headers: { Authorization: `Bearer ${await tokens.issue(userId, 600)}` } });
    const granted = await link("frank");
    expect(granted.status).toBe(200);
    const { url } = (await granted.json()) as { url: string };
    const download = await fetch(new URL(url, assetsUrl));
    expect(download.status).toBe(200);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(new Uint8Array(image));
    expect((await link("mallory")).status).toBe(404);
  });

  it("loses nothing acknowledged when a gateway pod is deleted under traffic", async () => {
    // Only this test's clients on the gateways, so the victim's count is theirs.
    await closeAllClients();
    const receivers = await Promise.all(["r1", "r2", "r3", "r4", "r5", "r6"].map((user) => new RoamingUser(user, new EventCollector()).start()));
    const sam = await new RoamingUser("sam").start();
    const byPod = await connectionsByPod();
    const [victim, onVictim] = [...byPod.entries()].sort((a, b) => b[1] - a[1])[0] ?? ["", 0];
    expect(onVictim).toBeGreaterThan(0);

    // The sender retries an unacknowledged message (same clientMessageId) once it is back.
    const acked: Message[] = [];
    const stop = new AbortController();
    const traffic = (async () => {
      for (let i = 0; !stop.signal.aborted; i++) {
        const to = receivers[i % receivers.length]?.user ?? "r1";
        const clientMessageId = randomUUID();
        for (;;) {
          try {
            // A plain request, not the outbox: a send lost with its connection must fail here and be retried on the next one.
            const client = await sam.current;
            acked.push((await client.request({ type: "send", to, clientMessageId, body: { text: `message ${String(i)}` } })).message);
            progress.emit("change");
            break;
          } catch {
            await sam.reconnected;
          }
        }
      }
    })();
    await untilCount(() => acked.length, 20); // traffic flows before the deletion
    const deletedAt = performance.now();
    await tools.kubectl(["delete", "pod", "-n", namespace, victim, "--wait=false"]);
    const everyone = [...receivers, sam];
    const backAt = await untilCount(() => everyone.reduce((n, user) => n + user.backAt.length, 0), onVictim).then(() => everyone.flatMap((user) => user.backAt));
    const sentAfter = acked.length;
    await untilCount(() => acked.length, sentAfter + 20); // and flows again
    stop.abort();
    await traffic;
    timings.push(`gateway pod deleted → its ${String(onVictim)} clients back: ${((Math.max(...backAt) - deletedAt) / 1000).toFixed(1)} s (first ${((Math.min(...backAt) - deletedAt) / 1000).toFixed(1)} s)`);
    for (const receiver of receivers) {
      const wanted = new Set(acked.filter((m) => m.recipientId === receiver.user).map((m) => m.messageId));
      await receiver.inbox?.until((events) => [...wanted].every((id) => events.some((e) => e.type === "message" && e.message.messageId === id)));
    }
    await rolledOut(namespace, "chat-gateway");
  });

  it("rolls the gateways when a setting changes, each telling its clients to reconnect first", async () => {
    await closeAllClients();
    const users = await Promise.all(["s1", "s2", "s3", "s4"].map((user) => new RoamingUser(user, new EventCollector()).start()));
    const started = performance.now();
    await tools.kubectl(["patch", "messagingcluster", "chat", "-n", namespace, "--type=merge", "-p", JSON.stringify(messagingClusterPatch({ PARLEY_MAX_CONNECTIONS: "20000" }))]);
    await untilCount(() => users.reduce((n, user) => n + user.backAt.length, 0), users.length);
    await rolledOut(namespace, "chat-gateway");
    record("gateway setting changed → gateways rolled, every client moved", started);
    const template = await tools.json<{ spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } } }>(["get", "deployment", "-n", namespace, "chat-gateway"]);
    expect(template.spec.template.spec.containers[0]?.env).toContainEqual({ name: "PARLEY_MAX_CONNECTIONS", value: "20000" });
  });

  it("scales gateways up on real connections and down again, moving the clients of the pods it removes", async () => {
    await closeAllClients();
    const deployment = `deployment/chat-gateway`;
    const replicasAre = (field: "spec.replicas" | "status.readyReplicas", count: number) =>
      tools.kubectl(["wait", "-n", namespace, `--for=jsonpath={.${field}}=${String(count)}`, deployment, "--timeout=180s"]);
    // At most 4 connections a pod: 10 clients want 3 pods, 4 clients 1 pod.
    const autoscaling = { enabled: true, minReplicas: 1, maxReplicas: 3, targetConnectionsPerPod: 4, scaleDownStabilizationSeconds: 0 };
    await tools.kubectl(["patch", "messagingcluster", "chat", "-n", namespace, "--type=merge", "-p", JSON.stringify({ spec: { gateway: { autoscaling } } })]);
    await replicasAre("spec.replicas", 1);
    await rolledOut(namespace, "chat-gateway");

    const upStarted = performance.now();
    const users = await Promise.all(Array.from({ length: 10 }, (_, i) => new RoamingUser(`scale${String(i)}`, new EventCollector()).start()));
    await replicasAre("spec.replicas", 3);
    await replicasAre("status.readyReplicas", 3);
    record("10 connections on 1 gateway → 3 gateways Ready", upStarted);

    const downStarted = performance.now();
    // Three stay: with the sender below, four connections, still one pod.
    const [stay, leave] = [users.slice(0, 3), users.slice(3)];
    await Promise.all(leave.map((user) => user.stop()));
    await replicasAre("spec.replicas", 1);
    await rolledOut(namespace, "chat-gateway");
    record("down to 3 connections → 1 gateway", downStarted);
    // Whoever was on a removed pod came back; every one who stayed is reachable.
    // The Service may still hold a removed pod's endpoint for a moment: a client retries.
    const sender = await (await new RoamingUser("scale-sender").start()).current;
    for (const user of stay) {
      const message = await sender.send(user.user, "still here?");
      await user.inbox?.until((events) => events.some((e) => e.type === "message" && e.message.messageId === message.messageId));
    }
    // A connection a moved client left behind is counted until the server has closed it.
    await vi.waitFor(async () => {
      expect([...(await connectionsByPod()).values()]).toEqual([stay.length + 1]);
    }, { timeout: 30_000, interval: 500 });
  });

  it("rolls the operator to a new image tag on helm upgrade", async () => {
    const started = performance.now();
    await tools.helm(["upgrade", release, CHART, "--namespace", operatorNamespace, "--reuse-values", "--set", `image.tag=${upgradeTag}`, "--wait", "--timeout", "5m"]);
    record("helm upgrade → operator on the new tag", started);
    // The old pod may still be terminating: the running ones only.
    const [operator, ...more] = (await pods(operatorNamespace, `app.kubernetes.io/instance=${release}`)).filter((pod) => !pod.metadata.deletionTimestamp);
    expect(more).toEqual([]);
    expect(operator && isReady(operator)).toBe(true);
    const deployment = await tools.json<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(["get", "deployment", "-n", operatorNamespace, "-l", `app.kubernetes.io/instance=${release}`]);
    expect(JSON.stringify(deployment)).toContain(`parley:${upgradeTag}`);
  });

  it("deletes the topics, keyspace and bucket of a MessagingCluster with reclaimPolicy Delete, then uninstalls", async () => {
    await closeAllClients();
    const started = performance.now();
    await tools.kubectl(["delete", "messagingcluster", "chat", "-n", namespace, "--wait=true", "--timeout=180s"]);
    record("MessagingCluster deleted (reclaimPolicy Delete) → gone", started);
    expect(await backEndState()).toEqual({ keyspace: false, topics: [], bucket: false });
    await tools.helm(["uninstall", release, "--namespace", operatorNamespace, "--wait"]);
    // The Deployment is gone; its pods go with the garbage collector and their grace period.
    await tools.kubectl(["wait", "--for=delete", "pods", "-n", operatorNamespace, "-l", `app.kubernetes.io/instance=${release}`, "--timeout=120s"]);
    expect(await pods(operatorNamespace, `app.kubernetes.io/instance=${release}`)).toEqual([]);
    // Helm never deletes a CRD it installed from crds/: the users' other clusters keep theirs.
    await tools.kubectl(["get", "crd", "messagingclusters.messaging.parley.io"]);
  });
});

/** A merge patch of the gateway's settings (the other fields as applied). */
function messagingClusterPatch(settings: Record<string, string>) {
  return { spec: { gateway: { settings } } };
}

/** What the cluster's run left on the host's back ends. */
async function backEndState(): Promise<{ keyspace: boolean; topics: string[]; bucket: boolean }> {
  const cassandra = await connectTestClient();
  const keyspaces = await cassandra.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", [`parley_e2ec_${run}`], { prepare: true });
  await cassandra.shutdown();
  const admin = new Kafka({ clientId: "e2e-cluster", brokers: infraEndpoint("PARLEY_TEST_KAFKA_BROKERS").split(","), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`parley.e2ec${run}.`));
  await admin.disconnect();
  const s3 = createS3Client({
    endPoint: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"),
    accessKey: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
    secretKey: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
    region: infraEndpoint("PARLEY_TEST_S3_REGION"),
  });
  const bucket = await s3.client.bucketExists(`parley-e2ec-${run}`);
  s3.agent.destroy();
  return { keyspace: keyspaces.rowLength > 0, topics, bucket };
}

/**
 * A user whose client, told to reconnect (its gateway going away), does what a client
 * should: closes, waits the retryAfterMs the frame gave, then connects through the Service
 * again from its cursor, trying again while the Service may still pick the leaving pod.
 */
class RoamingUser {
  current!: Promise<ParleyClient>;
  reconnected: Promise<void> = Promise.resolve();
  readonly backAt: number[] = [];
  stopped = false;
  /** Shared by the user's clients one after another: the next resumes from the cursor the last reached. */
  private readonly storage: ParleyStorage = memoryStorage();

  constructor(
    readonly user: string,
    readonly inbox?: EventCollector,
  ) {
    roamingUsers.push(this);
  }

  async start(): Promise<this> {
    this.current = this.reopen(0);
    await this.current;
    return this;
  }

  /** Leaves for good: closes the client, or the one a move in flight is opening, and does not come back. */
  async stop(): Promise<void> {
    this.stopped = true;
    const client = await this.current.catch(() => undefined);
    await client?.close().catch(() => undefined);
  }

  private async open(): Promise<ParleyClient> {
    const client = await connect(this.user, { storage: this.storage, ...(this.inbox ? { onEvent: this.inbox.record } : {}) });
    // Told to go (a reconnect frame), or dropped without one: either way, come back.
    let handled = false;
    const comeBack = (retryAfterMs: number): void => {
      if (handled || this.stopped) return;
      handled = true;
      const next = client
        .close()
        .catch(() => undefined)
        .then(() => this.reopen(retryAfterMs));
      this.current = next;
      this.reconnected = next.then(() => {
        this.backAt.push(performance.now());
        progress.emit("change");
      });
      // A test that waits on them sees a failure; one that no longer does must not crash the run.
      next.catch(() => undefined);
      this.reconnected.catch(() => undefined);
    };
    client.once("reconnect", ({ retryAfterMs }) => {
      comeBack(retryAfterMs);
    });
    client.once("close", () => {
      comeBack(0);
    });
    return client;
  }

  private async reopen(retryAfterMs: number): Promise<ParleyClient> {
    for (let attempt = 1; ; attempt++) {
      await delay(Math.max(retryAfterMs, 100));
      if (this.stopped) throw new Error(`${this.user} stopped while moving`);
      try {
        return await this.open();
      } catch (error) {
        if (attempt >= 50) throw error;
      }
    }
  }
}

/** Resolves once `count()` reaches `wanted`, checking whenever `progress` says something moved. */
async function untilCount(count: () => number, wanted: number): Promise<void> {
  while (count() < wanted) await once(progress, "change");
}
