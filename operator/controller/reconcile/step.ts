import type { Condition, MessagingCluster, MessagingClusterStatus, Service } from "../../api/v1alpha1/messagingcluster.js";
import { viewOf, type ClusterView } from "../../builders/cluster.js";
import type { Credentials } from "../../external/external-state.js";
import type { Deployment } from "../../kube/types.js";
import { setCondition, type ConditionUpdate } from "../conditions.js";
import type { Rollout } from "./rollout.js";

export interface ReconcileResult {
  /** Reconcile again after this long even if nothing changes (level-triggered re-check). */
  requeueAfterMs?: number;
}

/** The back ends a cluster needs set up outside Kubernetes, in the order status names them. */
export const BACKENDS = ["kafka", "cassandra", "storage"] as const;
export type Backend = (typeof BACKENDS)[number];

/** What a back-end step found; cached by the step between reconciles. */
export interface BackendResult {
  ok: boolean;
  reason: string;
  message: string;
  /** Cassandra only: the keyspace's schema version after the migrations. */
  schemaVersion?: number;
}

/**
 * One reconcile of one MessagingCluster, handed from step to step: what was read, what
 * each step found that a later step needs, and the status being built (each step sets
 * the fields it owns; the status step writes it).
 */
export class ReconcileContext {
  readonly view: ClusterView;
  /** The status to write: the stored one, with what the steps so far changed. */
  readonly status: MessagingClusterStatus;
  credentials: Credentials = {};
  /** Why a back end (or the JWT secret) has no usable credentials. */
  missing: Partial<Record<Backend | "jwt", string>> = {};
  readonly backends: Partial<Record<Backend, BackendResult>> = {};
  /** Each service's Deployment as applied or read, undefined when it does not exist. */
  readonly deployments = new Map<Service, Deployment | undefined>();
  rollouts: Rollout[] = [];

  /**
   * @param cluster as read at the start of the reconcile (its status is what is stored).
   * @param now the reconcile's one reading of the clock: condition times and cache ages.
   */
  constructor(
    readonly cluster: MessagingCluster,
    readonly now: Date,
  ) {
    this.view = viewOf(cluster);
    this.status = { ...cluster.status, conditions: [...(cluster.status?.conditions ?? [])] };
  }

  get generation(): number {
    return this.view.generation;
  }

  setCondition(update: ConditionUpdate): void {
    this.status.conditions = setCondition(this.status.conditions ?? [], update, this.generation, this.now);
  }

  conditions(): Condition[] {
    return this.status.conditions ?? [];
  }
}

export type StepResult =
  | { readonly outcome: "continue" }
  | {
      readonly outcome: "done";
      readonly result: ReconcileResult;
      /** The finalizer is off: whatever the steps remember about the cluster can go. */
      readonly released?: boolean;
    };

export const CONTINUE: StepResult = { outcome: "continue" };

export function done(result: ReconcileResult = {}, released = false): StepResult {
  return released ? { outcome: "done", result, released } : { outcome: "done", result };
}

/** One concern of the reconcile: reads and changes what it owns, reports through the context. */
export interface ReconcileStep {
  readonly name: string;
  /** "done" ends the reconcile with its result; a throw ends it for the queue's backoff. */
  run(ctx: ReconcileContext): Promise<StepResult>;
  /** The cluster is gone: drop what the step keeps for it (by uid). */
  forget?(uid: string): void;
}

/** Steps that do not depend on each other, run at once (the back ends: one slow one does not delay the others). */
export function concurrently(name: string, steps: readonly ReconcileStep[]): ReconcileStep {
  return {
    name,
    async run(ctx) {
      const results = await Promise.all(steps.map((step) => step.run(ctx)));
      return results.find((result) => result.outcome === "done") ?? CONTINUE;
    },
    forget(uid) {
      for (const step of steps) step.forget?.(uid);
    },
  };
}
