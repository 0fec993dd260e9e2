import { hostname } from "node:os";
import { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../services/runtime/logger.js";
import { Operator } from "./controller/operator.js";
import { AdapterExternalState } from "./external/adapter-external-state.js";
import { RegistryConnectionSource } from "./external/connection-source.js";

export interface OperatorProcessOptions {
  /** A kubeconfig file; default: the in-cluster service account, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  namespace?: string;
  selector?: string;
  metricsHost: string;
  metricsPort: number;
  leaderElect: boolean;
  leaseNamespace?: string;
  /** Name of the leader-election Lease (default parley-operator). */
  leaseName?: string;
  workers: number;
  logger: Logger;
  onLostLeadership: () => void;
}

/** The operator's credentials cannot be loaded: the message names the file or source and what is wrong. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeConfigError";
  }
}

function reason(error: unknown): string {
  if (error instanceof Error && "code" in error && error.code === "ENOENT") return "no such file";
  if (error instanceof Error && "code" in error && error.code === "EACCES") return "permission denied";
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/**
 * Where the operator's credentials come from, as kubectl and controller-runtime decide it.
 * A file that is missing, unreadable or names no cluster is a KubeConfigError.
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = new KubeConfig();
  const source = path !== undefined ? `kubeconfig ${path}` : process.env.KUBERNETES_SERVICE_HOST ? "the in-cluster service account" : `kubeconfig ${process.env.KUBECONFIG ?? "~/.kube/config"}`;
  try {
    if (path !== undefined) config.loadFromFile(path);
    else if (process.env.KUBERNETES_SERVICE_HOST) config.loadFromCluster();
    else config.loadFromDefault();
  } catch (error) {
    throw new KubeConfigError(`cannot load ${source}: ${reason(error)}`);
  }
  if (config.getCurrentCluster() === null) throw new KubeConfigError(`${source} names no cluster for its current context (${config.getCurrentContext() || "none set"})`);
  return config;
}

/** The operator as `parley operator` runs it: real back ends, the Redis registry, leader election. */
export async function startOperatorProcess(options: OperatorProcessOptions): Promise<Operator> {
  const kubeConfig = loadKubeConfig(options.kubeconfig);
  const leaseNamespace = options.leaseNamespace ?? process.env.POD_NAMESPACE ?? options.namespace ?? "default";
  const operator = new Operator({
    kubeConfig,
    external: new AdapterExternalState(),
    connections: new RegistryConnectionSource(),
    logger: options.logger,
    workers: options.workers,
    http: { host: options.metricsHost, port: options.metricsPort },
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.selector === undefined ? {} : { selector: options.selector }),
    ...(options.leaderElect ? { leaderElection: { namespace: leaseNamespace, name: options.leaseName ?? "parley-operator", identity: process.env.POD_NAME ?? hostname() } } : {}),
    onLostLeadership: options.onLostLeadership,
  });
  await operator.start();
  return operator;
}
