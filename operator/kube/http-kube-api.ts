/* eslint-disable @typescript-eslint/no-unnecessary-type-parameters -- callers name the kind of object a request returns */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeError, resourcePath, type ApplyOptions, type JsonPatchOperation, type KubeApi, type KubeList, type ResourceRef } from "./kube-api.js";

const TIMEOUT_MS = 30_000;

/**
 * KubeApi over HTTP(S), authenticated as the KubeConfig's current user (client
 * certificate, bearer token, exec plugin, in-cluster service account token, impersonation).
 * One keep-alive connection pool for all requests.
 */
export class HttpKubeApi implements KubeApi {
  private readonly server: URL;
  private agent: HttpAgent | undefined;

  constructor(private readonly config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
  }

  async get<T>(ref: ResourceRef): Promise<T | undefined> {
    try {
      return await this.request<T>("GET", resourcePath(ref));
    } catch (error) {
      if (error instanceof KubeError && error.status === 404) return undefined;
      throw error;
    }
  }

  async list<T>(ref: ResourceRef, options: { labelSelector?: string } = {}): Promise<KubeList<T>> {
    const query = new URLSearchParams();
    if (options.labelSelector !== undefined) query.set("labelSelector", options.labelSelector);
    const items: T[] = [];
    let resourceVersion: string | undefined;
    let token: string | undefined;
    do {
      if (token !== undefined) query.set("continue", token);
      query.set("limit", "500");
      const page = await this.request<KubeList<T>>("GET", `${resourcePath(ref)}?${query.toString()}`);
      items.push(...page.items);
      resourceVersion = page.metadata.resourceVersion;
      token = page.metadata.continue === "" ? undefined : page.metadata.continue;
    } while (token !== undefined);
    return { items, metadata: { resourceVersion } };
  }

  async apply<T>(ref: ResourceRef, body: unknown, options: ApplyOptions): Promise<{ object: T; created: boolean }> {
    const query = new URLSearchParams({ fieldManager: options.fieldManager });
    if (options.force) query.set("force", "true");
    const { body: object, status } = await this.send<T>("PATCH", `${resourcePath(ref)}?${query.toString()}`, body, "application/apply-patch+yaml");
    return { object, created: status === 201 };
  }

  mergePatch<T>(ref: ResourceRef, patch: unknown): Promise<T> {
    return this.request<T>("PATCH", resourcePath(ref), patch, "application/merge-patch+json");
  }

  jsonPatch<T>(ref: ResourceRef, operations: readonly JsonPatchOperation[]): Promise<T> {
    return this.request<T>("PATCH", resourcePath(ref), operations, "application/json-patch+json");
  }

  create<T>(ref: ResourceRef, body: unknown): Promise<T> {
    // POST goes to the collection, or to a named object's subresource (pods/x/binding).
    return this.request<T>("POST", resourcePath(ref.subresource === undefined ? { ...ref, name: undefined } : ref), body);
  }

  replace<T>(ref: ResourceRef, body: unknown): Promise<T> {
    return this.request<T>("PUT", resourcePath(ref), body);
  }

  async delete(ref: ResourceRef, options: { propagationPolicy?: "Foreground" | "Background" | "Orphan" } = {}): Promise<void> {
    try {
      await this.request("DELETE", resourcePath(ref), { kind: "DeleteOptions", apiVersion: "v1", ...options });
    } catch (error) {
      if (error instanceof KubeError && error.status === 404) return;
      throw error;
    }
  }

  /** Closes the idle keep-alive connections. */
  close(): void {
    this.agent?.destroy();
  }

  private async request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    return (await this.send<T>(method, path, body, contentType)).body;
  }

  private async send<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ body: T; status: number }> {
    const options: RequestOptions = { method, headers: {} };
    await this.config.applyToHTTPSOptions(options);
    const secure = this.server.protocol === "https:";
    // Reuse one pool: the config hands out a fresh agent per call.
    this.agent ??= secure
      ? new HttpsAgent({
          keepAlive: true,
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
          ...(options.servername === undefined ? {} : { servername: options.servername }),
        })
      : new HttpAgent({ keepAlive: true });
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: "application/json" };
    for (const [key, value] of Object.entries(options.headers ?? {})) {
      if (typeof value === "string") headers[key] = value;
    }
    if (payload !== undefined) {
      headers["Content-Type"] = contentType;
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    const base = this.server.pathname.replace(/\/$/, "");
    const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const send = secure ? httpsRequest : httpRequest;
      const req = send(
        {
          protocol: this.server.protocol,
          hostname: this.server.hostname.replace(/^\[(.*)\]$/, "$1"),
          port: this.server.port === "" ? undefined : Number(this.server.port),
          path: base + path,
          method,
          headers,
          agent: this.agent,
          ...(options.auth === undefined ? {} : { auth: options.auth }),
          timeout: TIMEOUT_MS,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${TIMEOUT_MS} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
    const parsed: unknown = response.text === "" ? undefined : safeJson(response.text);
    if (response.status >= 200 && response.status < 300) return { body: parsed as T, status: response.status };
    const status = (parsed ?? {}) as { reason?: string; message?: string; details?: unknown };
    throw new KubeError(response.status, status.reason ?? "Unknown", `${method} ${path}: ${response.status} ${status.message ?? response.text}`, status.details);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { message: text };
  }
}
