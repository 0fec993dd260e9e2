/* eslint-disable @typescript-eslint/no-unnecessary-type-parameters -- the KubeApi signatures */
import { canonicalJson } from "../builders/environment.js";
import { KubeError, resourcePath, type JsonPatchOperation, type KubeApi, type KubeList, type ResourceRef } from "../kube/kube-api.js";

type Json = Record<string, unknown>;
interface Meta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  uid?: string;
  finalizers?: string[];
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  creationTimestamp?: string;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function metaOf(object: Json): Meta {
  return object.metadata as Meta;
}

/**
 * An in-memory API server for unit tests: objects by path, resourceVersion bumped on
 * every real change (and only then), generation bumped on spec changes, apply as a
 * merge of the applied fields, deletion held by finalizers. Records every write.
 */
export class FakeKubeApi implements KubeApi {
  readonly objects = new Map<string, Json>();
  readonly writes: { verb: string; path: string }[] = [];
  private version = 1;
  /** Fail the next requests whose path includes the key (error injection). */
  readonly failures: { pathIncludes: string; error: Error }[] = [];

  seed(ref: ResourceRef, object: Json): Json {
    const stored = clone(object);
    const meta = metaOf(stored);
    meta.resourceVersion = String(this.version++);
    meta.uid ??= `uid-${meta.name}`;
    meta.generation ??= 1;
    meta.creationTimestamp ??= new Date().toISOString();
    this.objects.set(resourcePath({ ...ref, namespace: ref.namespace ?? meta.namespace, name: meta.name }), stored);
    return clone(stored);
  }

  object(ref: ResourceRef): Json | undefined {
    const found = this.objects.get(resourcePath(ref));
    return found === undefined ? undefined : clone(found);
  }

  get<T>(ref: ResourceRef): Promise<T | undefined> {
    this.fail(ref);
    const found = this.objects.get(resourcePath({ ...ref, subresource: undefined }));
    return Promise.resolve(found === undefined ? undefined : (clone(found) as T));
  }

  list<T>(ref: ResourceRef, options: { labelSelector?: string } = {}): Promise<KubeList<T>> {
    this.fail(ref);
    const prefix = resourcePath({ ...ref, name: undefined }) + "/";
    const wanted = (options.labelSelector ?? "")
      .split(",")
      .filter((part) => part !== "")
      .map((part) => part.split("=") as [string, string]);
    const items = [...this.objects.entries()]
      .filter(([path]) => path.startsWith(prefix) && !path.slice(prefix.length).includes("/"))
      .map(([, object]) => object)
      .filter((object) => wanted.every(([key, value]) => metaOf(object).labels?.[key] === value))
      .map((object) => clone(object) as T);
    return Promise.resolve({ items, metadata: { resourceVersion: String(this.version) } });
  }

  apply<T>(ref: ResourceRef, body: unknown): Promise<{ object: T; created: boolean }> {
    this.fail(ref);
    const path = resourcePath(ref);
    const existing = this.objects.get(path);
    const applied = clone(body) as Json;
    if (existing === undefined) {
      this.writes.push({ verb: "create", path });
      return Promise.resolve({ object: this.seed(ref, applied) as T, created: true });
    }
    const merged: Json = { ...existing, ...applied, metadata: { ...metaOf(existing), ...metaOf(applied) } };
    if ("status" in existing) merged.status = existing.status;
    return Promise.resolve({ object: this.store(path, existing, merged, "apply") as T, created: false });
  }

  mergePatch<T>(ref: ResourceRef, patch: unknown): Promise<T> {
    this.fail(ref);
    const path = resourcePath({ ...ref, subresource: undefined });
    const existing = this.require(path);
    const body = patch as Json;
    let merged: Json;
    if (ref.subresource === "status") merged = { ...existing, status: mergeJson(existing.status, body.status) };
    else if (ref.subresource === "scale") {
      const replicas = (body.spec as { replicas: number }).replicas;
      const spec = clone(existing.spec) as { gateway: { replicas: number } };
      spec.gateway.replicas = replicas;
      merged = { ...existing, spec };
    } else merged = mergeJson(existing, body) as Json;
    return Promise.resolve(this.store(path, existing, merged, `patch${ref.subresource ? `/${ref.subresource}` : ""}`) as T);
  }

  jsonPatch<T>(ref: ResourceRef, operations: readonly JsonPatchOperation[]): Promise<T> {
    this.fail(ref);
    const path = resourcePath(ref);
    const existing = this.require(path);
    const next = clone(existing);
    for (const operation of operations) applyOperation(next, operation);
    const stored = this.store(path, existing, next, "jsonpatch");
    // A deleted object whose last finalizer went is removed.
    const meta = metaOf(stored);
    if (meta.deletionTimestamp !== undefined && (meta.finalizers ?? []).length === 0) this.objects.delete(path);
    return Promise.resolve(stored as T);
  }

  create<T>(ref: ResourceRef, body: unknown): Promise<T> {
    this.fail(ref);
    const meta = metaOf(body as Json);
    const path = resourcePath({ ...ref, name: meta.name });
    if (this.objects.has(path)) return Promise.reject(new KubeError(409, "AlreadyExists", `${path} exists`));
    this.writes.push({ verb: "create", path });
    return Promise.resolve(this.seed(ref, body as Json) as T);
  }

  replace<T>(ref: ResourceRef, body: unknown): Promise<T> {
    this.fail(ref);
    const path = resourcePath(ref);
    const existing = this.require(path);
    if (metaOf(body as Json).resourceVersion !== metaOf(existing).resourceVersion) {
      return Promise.reject(new KubeError(409, "Conflict", `${path}: the object has been modified`));
    }
    return Promise.resolve(this.store(path, existing, clone(body) as Json, "replace") as T);
  }

  delete(ref: ResourceRef): Promise<void> {
    this.fail(ref);
    const path = resourcePath(ref);
    const existing = this.objects.get(path);
    if (existing === undefined) return Promise.resolve();
    this.writes.push({ verb: "delete", path });
    if ((metaOf(existing).finalizers ?? []).length > 0) {
      const next = clone(existing);
      metaOf(next).deletionTimestamp = new Date().toISOString();
      metaOf(next).resourceVersion = String(this.version++);
      this.objects.set(path, next);
    } else this.objects.delete(path);
    return Promise.resolve();
  }

  private store(path: string, existing: Json, next: Json, verb: string): Json {
    const before = { ...existing, metadata: { ...metaOf(existing), resourceVersion: undefined } };
    const after = { ...next, metadata: { ...metaOf(next), resourceVersion: undefined } };
    if (canonicalJson(before) === canonicalJson(after)) return clone(existing);
    if (canonicalJson(existing.spec) !== canonicalJson(next.spec)) metaOf(next).generation = (metaOf(existing).generation ?? 1) + 1;
    metaOf(next).resourceVersion = String(this.version++);
    this.objects.set(path, next);
    this.writes.push({ verb, path });
    return clone(next);
  }

  private require(path: string): Json {
    const existing = this.objects.get(path);
    if (existing === undefined) throw new KubeError(404, "NotFound", `${path} not found`);
    return existing;
  }

  private fail(ref: ResourceRef): void {
    const path = resourcePath(ref);
    const index = this.failures.findIndex((f) => path.includes(f.pathIncludes));
    if (index !== -1) {
      const [failure] = this.failures.splice(index, 1);
      if (failure) throw failure.error;
    }
  }
}

function mergeJson(target: unknown, patch: unknown): unknown {
  if (patch === null) return undefined;
  if (typeof patch !== "object" || Array.isArray(patch) || typeof target !== "object" || target === null || Array.isArray(target)) return clone(patch);
  const result: Json = { ...(target as Json) };
  for (const [key, value] of Object.entries(patch as Json)) {
    const merged = mergeJson(result[key], value);
    if (merged === undefined) Reflect.deleteProperty(result, key);
    else result[key] = merged;
  }
  return result;
}

function applyOperation(root: Json, operation: JsonPatchOperation): void {
  const parts = operation.path.split("/").slice(1);
  const last = parts.pop() ?? "";
  let parent: unknown = root;
  for (const part of parts) parent = (parent as Json)[part];
  const container = parent as Json | unknown[];
  if (operation.op === "test") {
    const actual = Array.isArray(container) ? container[Number(last)] : container[last];
    if (canonicalJson(actual) !== canonicalJson(operation.value)) throw new KubeError(422, "Invalid", `test failed at ${operation.path}`);
    return;
  }
  if (operation.op === "remove") {
    if (Array.isArray(container)) container.splice(Number(last), 1);
    else Reflect.deleteProperty(container, last);
    return;
  }
  if (Array.isArray(container)) {
    if (last === "-") container.push(operation.value);
    else if (operation.op === "add") container.splice(Number(last), 0, operation.value);
    else container[Number(last)] = operation.value;
  } else container[last] = operation.value;
}
