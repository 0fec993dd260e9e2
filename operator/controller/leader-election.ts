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
 * the lease every retry period; another replica takes it over once it has not been
 * renewed for leaseDurationSeconds. Updates carry the resourceVersion, so two replicas
 * never both win. A leader that cannot renew within renewDeadline steps down.
 */
export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
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
    } catch (error) {
      this.options.logger.warn({ err: error }, "leader election: lease request failed");
      held = this.leading && Date.now() - this.lastRenew < this.renewDeadlineMs;
    }
    if (this.stopped) return;
    if (held) {
      this.lastRenew = Date.now();
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

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { kube, identity } = this.options;
    const now = new Date();
    const lease = await kube.get<Lease>(this.ref());
    if (lease === undefined) {
      try {
        await kube.create(this.ref(), {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: this.leaseDurationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    }
    const holder = lease.spec.holderIdentity;
    const renewed = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = renewed + (lease.spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000 < now.getTime();
    if (holder && holder !== identity && !expired) return false;
    const takingOver = holder !== identity;
    try {
      await kube.replace(this.ref(), {
        ...lease,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.leaseDurationSeconds,
          acquireTime: takingOver ? microTime(now) : lease.spec.acquireTime,
          renewTime: microTime(now),
          leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
        },
      });
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
