import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../services/runtime/logger.js";
import { RESOURCES } from "../kube/kube-api.js";
import { kubeTestEnv, uniqueName } from "../testing/kube-test-env.js";
import { LeaderElector } from "./leader-election.js";

/** Leader election on a real API server's Leases (hack/servers/kube.sh). */
const logger = createLogger("silent");
let env: ReturnType<typeof kubeTestEnv>;
const namespace = uniqueName("parley-le");

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease {
  metadata: { resourceVersion?: string };
  spec: LeaseSpec;
}

beforeAll(async () => {
  env = kubeTestEnv();
  await env.kube.create({ apiVersion: "v1", plural: "namespaces" }, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
});

afterAll(async () => {
  await env.kube.delete({ apiVersion: "v1", plural: "namespaces", name: namespace });
  env.kube.close();
});

function leaseRef(name: string) {
  return { ...RESOURCES.leases, namespace, name };
}

/**
 * Lease and renew deadline are seconds long, not milliseconds: these tests share 2 cores
 * with other test files running in parallel, and a leader that misses a renewal by a few
 * hundred milliseconds must not lose its lease (nor a live holder look dead).
 */
const LEASE_SECONDS = 4;
const RENEW_DEADLINE_MS = 2_000;

function elector(lease: string, identity: string, leaseDurationSeconds = LEASE_SECONDS) {
  const instance = new LeaderElector({ kube: env.kube, logger, namespace, name: lease, identity, leaseDurationSeconds, retryPeriodMs: 50, renewDeadlineMs: RENEW_DEADLINE_MS });
  const started = new Promise<void>((resolve) => {
    instance.run(resolve, () => undefined);
  });
  return { instance, started };
}

function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace("Z", "000Z");
}

/** Writes the Lease as another replica would, with renewTime from that replica's (skewed) clock. */
async function writeLease(name: string, spec: LeaseSpec): Promise<void> {
  const ref = leaseRef(name);
  const existing = await env.kube.get<Lease>(ref);
  const body = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace, resourceVersion: existing?.metadata.resourceVersion }, spec };
  if (existing === undefined) await env.kube.create(ref, body);
  else await env.kube.replace(ref, body);
}

/** Resolves once the elector has read the lease `reads` more times (its requests, not a timer, pace the test). */
async function electorReads(lease: string, reads: number): Promise<void> {
  const kube = env.kube;
  const original = kube.get.bind(kube);
  let seen = 0;
  await new Promise<void>((resolve) => {
    kube.get = async <T,>(ref: Parameters<typeof kube.get>[0]): Promise<T | undefined> => {
      const result = await original<T>(ref);
      if (ref.plural === "leases" && ref.name === lease && ++seen >= reads) resolve();
      return result;
    };
  });
  kube.get = original;
}

describe("LeaderElector", () => {
  it("lets one replica lead; a released lease passes to the other at once", async () => {
    const a = elector("released", "a");
    await a.started;
    const b = elector("released", "b");
    let bLeads = false;
    void b.started.then(() => (bLeads = true));
    // b keeps trying while a renews: it must not win.
    await electorReads("released", 30);
    expect(bLeads).toBe(false);
    expect(a.instance.isLeader).toBe(true);
    expect((await env.kube.get<Lease>(leaseRef("released")))?.spec.holderIdentity).toBe("a");
    await a.instance.stop();
    await b.started;
    expect(b.instance.isLeader).toBe(true);
    expect((await env.kube.get<Lease>(leaseRef("released")))?.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    await b.instance.stop();
  });

  it("does not take over a live leader whose clock is an hour behind", async () => {
    // The holder renews every second (a quarter of its lease), but its renewTime says an hour ago.
    const skew = -3_600_000;
    await writeLease("slow-clock", { holderIdentity: "holder", leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime(Date.now() + skew), leaseTransitions: 0 });
    const standby = elector("slow-clock", "standby");
    let standbyLeads = false;
    void standby.started.then(() => (standbyLeads = true));
    // Two lease durations of renewals, each one a changed record.
    let lastRenewal = performance.now();
    for (let i = 0; i < 2 * LEASE_SECONDS; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await writeLease("slow-clock", { holderIdentity: "holder", leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime(Date.now() + skew), leaseTransitions: 0 });
      lastRenewal = performance.now();
    }
    expect(standbyLeads).toBe(false);
    expect((await env.kube.get<Lease>(leaseRef("slow-clock")))?.spec.holderIdentity).toBe("holder");
    // The holder stops renewing: one lease duration of unchanged record later, the standby leads.
    await standby.started;
    expect(performance.now() - lastRenewal).toBeGreaterThanOrEqual(LEASE_SECONDS * 1_000);
    expect((await env.kube.get<Lease>(leaseRef("slow-clock")))?.spec).toMatchObject({ holderIdentity: "standby", leaseTransitions: 1 });
    await standby.instance.stop();
  }, 60_000);

  it("takes over a dead leader whose clock was an hour ahead, one lease duration after it stopped", async () => {
    await writeLease("fast-clock", { holderIdentity: "dead", leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime(Date.now() + 3_600_000), leaseTransitions: 3 });
    const startedAt = performance.now();
    const standby = elector("fast-clock", "standby");
    await standby.started;
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(LEASE_SECONDS * 1_000);
    expect((await env.kube.get<Lease>(leaseRef("fast-clock")))?.spec).toMatchObject({ holderIdentity: "standby", leaseTransitions: 4 });
    await standby.instance.stop();
  }, 60_000);
});
