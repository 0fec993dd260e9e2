import { createServer, connect, type Server, type Socket } from "node:net";
import { Writable } from "node:stream";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdapterExternalState } from "../external/adapter-external-state.js";
import { RegistryConnectionSource } from "../external/connection-source.js";
import { RESOURCES } from "../kube/kube-api.js";
import { kubeTestEnv, uniqueName } from "../testing/kube-test-env.js";
import { Operator } from "./operator.js";

/**
 * /readyz and the "caches synced" log follow whether the operator really lists and watches
 * the API server: a TCP proxy in front of the real API server (hack/servers/kube.sh) is
 * switched off and on under a running operator.
 */

/** A TCP proxy to the API server that can drop every connection and refuse new ones. */
class SwitchableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  up = false;

  constructor(private readonly target: URL) {
    this.server = createServer((client) => {
      if (!this.up) {
        client.destroy();
        return;
      }
      const upstream = connect(Number(target.port), target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => {
          this.sockets.delete(socket);
        });
        socket.on("error", () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    return address.port;
  }

  down(): void {
    this.up = false;
    for (const socket of this.sockets) socket.destroy();
  }

  close(): Promise<void> {
    this.down();
    return new Promise((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}

/** The operator's log lines, with a way to await one. */
class LogLines extends Writable {
  readonly messages: string[] = [];
  private readonly waiters: { text: string; resolve: () => void }[] = [];

  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString("utf8").split("\n").filter((l) => l !== "")) {
      const message = (JSON.parse(line) as { msg: string }).msg;
      this.messages.push(message);
      // One line answers one waiter: two waiters for the same text need two lines.
      const waiter = this.waiters.find((w) => message.includes(w.text));
      if (waiter !== undefined) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
    callback();
  }

  /** Resolves at the next line containing text (not one already written). */
  next(text: string): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ text, resolve }));
  }
}

let env: ReturnType<typeof kubeTestEnv>;
let proxy: SwitchableProxy;
let operator: Operator;
let standby: Operator | undefined;
let proxied: KubeConfig;
const log = new LogLines();

async function readyz(): Promise<number> {
  return (await fetch(`${operator.url ?? ""}/readyz`)).status;
}

beforeAll(async () => {
  env = kubeTestEnv();
  const server = env.config.getCurrentCluster()?.server;
  if (server === undefined) throw new Error("the test kubeconfig names no server");
  proxy = new SwitchableProxy(new URL(server));
  const port = await proxy.listen();
  proxied = new KubeConfig();
  proxied.loadFromFile(env.kubeconfig);
  // The API server's certificate names 127.0.0.1, so TLS through the proxy still verifies.
  proxied.clusters = proxied.clusters.map((cluster) => ({ ...cluster, server: `https://127.0.0.1:${String(port)}` }));
  operator = new Operator({
    kubeConfig: proxied,
    external: new AdapterExternalState(),
    connections: new RegistryConnectionSource(),
    logger: pino({ level: "info" }, log),
    namespace: uniqueName("parley-ready"),
    http: { host: "127.0.0.1", port: 0 },
    autoscalerIntervalMs: 60_000,
  });
});

afterAll(async () => {
  await standby?.stop();
  await operator.stop();
  await proxy.close();
  env.kube.close();
});

describe("the operator's readiness", () => {
  it("is not ready and logs no 'caches synced' while the API server is unreachable; ready once it is reached", async () => {
    const failedTwice = Promise.all([log.next("listing and watching failed"), log.next("listing and watching failed")]);
    await operator.start();
    await failedTwice;
    expect(await readyz()).toBe(503);
    expect(log.messages.filter((m) => m.includes("caches synced"))).toEqual([]);

    const synced = log.next("caches synced");
    proxy.up = true;
    await synced;
    expect(await readyz()).toBe(200);
  });

  it("turns not ready when the watches break, and ready again once they are back", async () => {
    const broken = log.next("watch failed");
    proxy.down();
    await broken;
    expect(await readyz()).toBe(503);

    const back = Promise.all([log.next("listing and watching again"), log.next("listing and watching again")]);
    proxy.up = true;
    await back;
    expect(await readyz()).toBe(200);
  });

  it("on a standby: ready while its Lease requests reach the API server, not ready while they fail", async () => {
    // Another replica holds the Lease for an hour: this operator stands by.
    const lease = uniqueName("parley-ready");
    const now = new Date().toISOString().replace("Z", "000Z");
    await env.kube.create(
      { ...RESOURCES.leases, namespace: "default" },
      { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: lease, namespace: "default" }, spec: { holderIdentity: "other", leaseDurationSeconds: 3600, renewTime: now } },
    );
    const standbyLog = new LogLines();
    standby = new Operator({
      kubeConfig: proxied,
      external: new AdapterExternalState(),
      connections: new RegistryConnectionSource(),
      logger: pino({ level: "info" }, standbyLog),
      http: { host: "127.0.0.1", port: 0 },
      leaderElection: { namespace: "default", name: lease, identity: "standby", retryPeriodMs: 100 },
    });
    const standingBy = standbyLog.next("standing by");
    await standby.start();
    await standingBy;
    expect((await fetch(`${standby.url ?? ""}/readyz`)).status).toBe(200);
    expect(standby.isLeader).toBe(false);

    const failing = standbyLog.next("lease request failed");
    proxy.down();
    await failing;
    expect((await fetch(`${standby.url ?? ""}/readyz`)).status).toBe(503);
    proxy.up = true;
    await env.kube.delete({ ...RESOURCES.leases, namespace: "default", name: lease });
  });
});
