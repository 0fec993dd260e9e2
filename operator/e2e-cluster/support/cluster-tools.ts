import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What `hack/cluster/cluster.sh env` prints: where the one-node cluster is and its tools. */
export interface ClusterEnv {
  kubeconfig: string;
  kubectl: string;
  helm: string;
  /** The node's address: NodePorts, and the host's back ends as pods reach them. */
  nodeAddress: string;
}

const CLUSTER_SCRIPT = fileURLToPath(new URL("../../../hack/cluster/cluster.sh", import.meta.url));

/** The cluster's variables; throws naming `make cluster-up` when it is not running. */
export function clusterEnv(): ClusterEnv {
  try {
    execFileSync(CLUSTER_SCRIPT, ["status"], { stdio: "pipe" });
  } catch (error) {
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? "";
    throw new Error(`the one-node cluster is not running: start it with 'make cluster-up' (hack/cluster/cluster.sh up)\n${output}`, { cause: error });
  }
  const vars = new Map<string, string>();
  for (const line of execFileSync(CLUSTER_SCRIPT, ["env"], { encoding: "utf8" }).split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) vars.set(line.slice(0, at), line.slice(at + 1));
  }
  const read = (name: string): string => {
    const value = vars.get(name);
    if (!value) throw new Error(`hack/cluster/cluster.sh env printed no ${name}`);
    return value;
  };
  return {
    kubeconfig: read("PARLEY_CLUSTER_KUBECONFIG"),
    kubectl: read("PARLEY_CLUSTER_KUBECTL"),
    helm: read("PARLEY_CLUSTER_HELM"),
    nodeAddress: read("PARLEY_CLUSTER_NODE_ADDRESS"),
  };
}

/** Runs a command to completion; rejects with its stderr when it exits non-zero. */
export function runTool(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new Error(`${file} ${args.join(" ")} exited ${String(code)}: ${Buffer.concat(err).toString("utf8").trim()}`));
    });
    child.stdin.end(input ?? "");
  });
}

/** kubectl and helm bound to the cluster's kubeconfig. */
export class ClusterTools {
  constructor(readonly env: ClusterEnv) {}

  kubectl(args: string[], input?: string): Promise<string> {
    return runTool(this.env.kubectl, ["--kubeconfig", this.env.kubeconfig, ...args], input);
  }

  helm(args: string[]): Promise<string> {
    return runTool(this.env.helm, ["--kubeconfig", this.env.kubeconfig, ...args]);
  }

  async json<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.kubectl([...args, "-o", "json"])) as T;
  }

  /** Applies objects given as JSON values (kubectl accepts a JSON List). */
  async apply(namespace: string, objects: unknown[]): Promise<void> {
    await this.kubectl(["apply", "-n", namespace, "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
  }
}
