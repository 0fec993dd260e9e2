/* eslint-disable @typescript-eslint/no-unnecessary-type-parameters -- callers name the kind of object a request returns */
/**
 * The part of the Kubernetes API the operator uses, on plain JSON objects. The real one
 * talks HTTP to an API server (http-kube-api.ts); unit tests use an in-memory fake
 * (operator/testing/fake-kube-api.ts).
 */
export interface ResourceRef {
  /** `v1`, `apps/v1`, `messaging.parley.io/v1alpha1`... */
  apiVersion: string;
  /** Lower-case plural resource name: `deployments`. */
  plural: string;
  namespace?: string;
  name?: string;
  /** `status`, `scale`... */
  subresource?: string;
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export interface ApplyOptions {
  fieldManager: string;
  force: boolean;
}

export type JsonPatchOperation =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string };

export interface KubeApi {
  /** The object, or undefined when it does not exist. */
  get<T>(ref: ResourceRef): Promise<T | undefined>;
  list<T>(ref: ResourceRef, options?: { labelSelector?: string }): Promise<KubeList<T>>;
  /** Server-side apply (creates the object when missing); `created` when it did. */
  apply<T>(ref: ResourceRef, body: unknown, options: ApplyOptions): Promise<{ object: T; created: boolean }>;
  mergePatch<T>(ref: ResourceRef, patch: unknown): Promise<T>;
  jsonPatch<T>(ref: ResourceRef, operations: readonly JsonPatchOperation[]): Promise<T>;
  create<T>(ref: ResourceRef, body: unknown): Promise<T>;
  /** PUT: fails with 409 when body's resourceVersion is stale. */
  replace<T>(ref: ResourceRef, body: unknown): Promise<T>;
  /** Resolves whether or not the object existed. */
  delete(ref: ResourceRef, options?: { propagationPolicy?: "Foreground" | "Background" | "Orphan" }): Promise<void>;
}

/** An API server's refusal, with its HTTP status and Status reason and message. */
export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeError && error.status === 404;
}

export function isConflict(error: unknown): boolean {
  return error instanceof KubeError && error.status === 409;
}

/** The URL path of a resource: /api/v1/namespaces/ns/services/name/status. */
export function resourcePath(ref: ResourceRef): string {
  const root = ref.apiVersion.includes("/") ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const namespace = ref.namespace === undefined ? "" : `/namespaces/${encodeURIComponent(ref.namespace)}`;
  const name = ref.name === undefined ? "" : `/${encodeURIComponent(ref.name)}`;
  const subresource = ref.subresource === undefined ? "" : `/${ref.subresource}`;
  return `${root}${namespace}/${ref.plural}${name}${subresource}`;
}

/** Resource refs of the kinds the operator touches. */
export const RESOURCES = {
  messagingClusters: { apiVersion: "messaging.parley.io/v1alpha1", plural: "messagingclusters" },
  deployments: { apiVersion: "apps/v1", plural: "deployments" },
  services: { apiVersion: "v1", plural: "services" },
  configMaps: { apiVersion: "v1", plural: "configmaps" },
  serviceAccounts: { apiVersion: "v1", plural: "serviceaccounts" },
  podDisruptionBudgets: { apiVersion: "policy/v1", plural: "poddisruptionbudgets" },
  secrets: { apiVersion: "v1", plural: "secrets" },
  events: { apiVersion: "v1", plural: "events" },
  leases: { apiVersion: "coordination.k8s.io/v1", plural: "leases" },
} as const;

const PLURALS: Record<string, string> = {
  MessagingCluster: "messagingclusters",
  Deployment: "deployments",
  Service: "services",
  ConfigMap: "configmaps",
  ServiceAccount: "serviceaccounts",
  PodDisruptionBudget: "poddisruptionbudgets",
  Secret: "secrets",
  Event: "events",
  Lease: "leases",
};

/** The ref of an object from its apiVersion, kind and metadata. */
export function refOf(object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): ResourceRef {
  const plural = PLURALS[object.kind];
  if (plural === undefined) throw new Error(`no resource known for kind ${object.kind}`);
  return { apiVersion: object.apiVersion, plural, namespace: object.metadata.namespace, name: object.metadata.name };
}
