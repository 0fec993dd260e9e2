import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { KubeConfig, Watch } from "@kubernetes/client-node";
import { infraEndpoint } from "../../services/testing/infra.js";
import { HttpKubeApi } from "../kube/http-kube-api.js";
import { resourcePath, type ResourceRef } from "../kube/kube-api.js";

/**
 * The Kubernetes control plane of `hack/servers/kube.sh up` (started by `hack/infra.sh up`
 * or on its own): its kubeconfig, kubectl and helm. Missing: the test fails, naming the
 * command to run.
 */
export function kubeTestEnv(): { kubeconfig: string; kubectl: string; helm: string; config: KubeConfig; kube: HttpKubeApi } {
  const kubeconfig = infraEndpoint("PARLEY_TEST_KUBECONFIG");
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  return { kubeconfig, kubectl: infraEndpoint("PARLEY_TEST_KUBECTL"), helm: infraEndpoint("PARLEY_TEST_HELM"), config, kube: new HttpKubeApi(config) };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (kubectl, helm) with the test kubeconfig; resolves with its exit code and output. */
export function run(command: string, args: readonly string[], kubeconfig: string, input?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(command, [...args], { env: { ...process.env, KUBECONFIG: kubeconfig }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36).slice(-4)}${randomBytes(2).toString("hex")}`;
}

/**
 * Resolves with the object once `predicate` holds for it (undefined: the object does not
 * exist), following a watch rather than polling; fails after timeoutMs naming `what`.
 */
export function waitFor<T>(
  env: { config: KubeConfig; kube: HttpKubeApi },
  ref: ResourceRef,
  predicate: (object: T | undefined) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<T | undefined> {
  const name = ref.name ?? "";
  const collection = resourcePath({ ...ref, name: undefined });
  return new Promise((resolve, reject) => {
    let done = false;
    let controller: AbortController | undefined;
    let last: T | undefined;
    const finish = (error: Error | undefined, object?: T): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      controller?.abort();
      if (error) reject(error);
      else resolve(object);
    };
    const timer = setTimeout(() => {
      finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${last === undefined ? "nothing" : JSON.stringify(last).slice(0, 2000)}`));
    }, timeoutMs);
    const check = (object: T | undefined): void => {
      last = object;
      try {
        if (predicate(object)) finish(undefined, object);
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const start = async (): Promise<void> => {
      if (done) return;
      controller = await new Watch(env.config).watch(
        collection,
        { fieldSelector: `metadata.name=${name}` },
        (type: string, object: T) => {
          check(type === "DELETED" ? undefined : object);
        },
        () => {
          if (!done) {
            start().catch((error: unknown) => {
              finish(error instanceof Error ? error : new Error(String(error)));
            });
          }
        },
      );
      // The watch sends the current object as ADDED; a missing one sends nothing.
      check(await env.kube.get<T>(ref));
    };
    start().catch((error: unknown) => {
      finish(error instanceof Error ? error : new Error(String(error)));
    });
  });
}

interface CrdStatus {
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Resolves once the CustomResourceDefinition `name` is Established, followed by a watch.
 * (`kubectl wait --for=condition=Established` right after a create can fail at once with
 * "accessor error" while the new object has no conditions yet.)
 */
export async function crdEstablished(env: { config: KubeConfig; kube: HttpKubeApi }, name: string): Promise<void> {
  await waitFor<CrdStatus>(
    env,
    { apiVersion: "apiextensions.k8s.io/v1", plural: "customresourcedefinitions", name },
    (crd) => crd?.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true,
    `CRD ${name} Established`,
  );
}
