import type { Logger } from "../../services/runtime/logger.js";
import { isConflict, RESOURCES, type KubeApi } from "../kube/kube-api.js";

export interface LeaderElectionOptions {
  kube: KubeApi;
  logger: Logger;
  namespace: string;
  /** Lease name. */
  name: string;
  /** This replica's identity (the pod name). */
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

function microTime(date: Date): string {
  return date.toISOString().replace("Z", "000Z");
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: the holder renews
 * the lease every retry period; another replica takes it over once it has not seen the
 * lease record change for leaseDurationSeconds of its own clock. The holder's renewTime is
 * never compared with the local clock: clocks of two nodes differ, and a skewed one would
 * let a standby take over a live leader's lease (or wait forever on a dead one's). Updates
 * carry the resourceVersion, so two replicas never both win. A leader that cannot renew
 * within renewDeadline steps down.
 */
export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  /** The lease record as last read or written, and when (local monotonic clock) it was first seen so. */
  private observedRecord: string | undefined;
  private observedAt = 0;
  private lastRequestOk = false;
  /** The other holder this replica last logged standing by for. */
  private standingByFor: string | undefined;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private onStart: (() => void) | undefined;
  private onStop: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    this.leaseDurationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Whether the latest lease request reached the API server (a standby that cannot is not ready). */
  get reachable(): boolean {
    return this.lastRequestOk;
  }

  /** Starts campaigning; onStartedLeading runs when this replica wins, onStoppedLeading when it loses the lease. */
  run(onStartedLeading: () => void, onStoppedLeading: () => void): void {
    this.onStart = onStartedLeading;
    this.onStop = onStoppedLeading;
    this.schedule(0);
  }

  /** Stops campaigning and, when leading, releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.options.kube.get<Lease>(this.ref());
      if (lease?.spec.holderIdentity === this.options.identity) {
        await this.options.kube.replace(this.ref(), {
          ...lease,
          spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: microTime(new Date()) },
        });
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, "could not release the leader lease");
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.loop = this.tick().finally(() => {
        this.schedule(this.retryPeriodMs);
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    let held: boolean;
    try {
      held = await this.tryAcquireOrRenew();
      this.lastRequestOk = true;
    } catch (error) {
      this.lastRequestOk = false;
      this.options.logger.warn({ err: error }, "leader election: lease request failed");
      held = this.leading && performance.now() - this.lastRenew < this.renewDeadlineMs;
    }
    if (this.stopped) return;
    if (held) {
      this.lastRenew = performance.now();
      if (!this.leading) {
        this.leading = true;
        this.options.logger.info({ identity: this.options.identity }, "became the leader");
        this.onStart?.();
      }
    } else if (this.leading) {
      this.leading = false;
      this.options.logger.warn({ identity: this.options.identity }, "lost the leader lease");
      this.onStop?.();
    }
  }

  private ref() {
    return { ...RESOURCES.leases, namespace: this.options.namespace, name: this.options.name };
  }

  /** Notes the record as seen now unless it is the one seen before: expiry counts from its last change. */
  private observe(spec: Lease["spec"]): void {
    const record = JSON.stringify(spec);
    if (record === this.observedRecord) return;
    this.observedRecord = record;
    this.observedAt = performance.now();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { kube, identity } = this.options;
    const now = new Date();
    const lease = await kube.get<Lease>(this.ref());
    if (lease === undefined) {
      const spec = { holderIdentity: identity, leaseDurationSeconds: this.leaseDurationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
      try {
        const created = await kube.create<Lease>(this.ref(), { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: this.options.name, namespace: this.options.namespace }, spec });
        this.observe(created.spec);
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    }
    this.observe(lease.spec);
    const holder = lease.spec.holderIdentity;
    const expired = performance.now() - this.observedAt > (lease.spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
    if (holder && holder !== identity && !expired) {
      if (this.standingByFor !== holder) {
        this.standingByFor = holder;
        this.options.logger.info({ identity, holder }, "leader election: standing by; another replica holds the lease");
      }
      return false;
    }
    const takingOver = holder !== identity;
    // renewTime and acquireTime are for people reading the Lease; no candidate judges expiry by them.
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      acquireTime: takingOver ? microTime(now) : lease.spec.acquireTime,
      renewTime: microTime(now),
      leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
    };
    try {
      const written = await kube.replace<Lease>(this.ref(), { ...lease, spec });
      this.observe(written.spec);
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
