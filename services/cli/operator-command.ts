import { InvalidArgumentError, Option } from "commander";
import type { CommandSpec } from "./command-spec.js";
import type { OperatorCommandOptions } from "./operator-run.js";

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError("must be a port number (0-65535)");
  return parsed;
}

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 64) throw new InvalidArgumentError("must be a whole number from 1 to 64");
  return parsed;
}

/** `parley operator`: reconciles MessagingCluster resources (operator/); it reads no settings. */
export const operatorCommand: CommandSpec = {
  name: "operator",
  synopsis: "parley operator",
  reads: {},
  flags: [],
  define(command) {
    command
      .description("run the Kubernetes operator that reconciles MessagingCluster resources (messaging.parley.io/v1alpha1)")
      .option("--kubeconfig <path>", "kubeconfig file (default: the in-cluster service account, else $KUBECONFIG or ~/.kube/config)")
      .option("--namespace <namespace>", "reconcile MessagingClusters in this namespace only (default: every namespace)")
      .option("--selector <labels>", "reconcile only MessagingClusters with these labels, e.g. parley.io/operator=canary (default: all)")
      .option("--metrics-port <port>", "port of /metrics, /healthz and /readyz", port, 8080)
      .option("--metrics-host <address>", "address /metrics, /healthz and /readyz listen on", "0.0.0.0")
      .option("--no-leader-elect", "reconcile without holding the leader Lease (only with a single replica)")
      .option("--lease-namespace <namespace>", "namespace of the leader Lease (default: $POD_NAMESPACE, else --namespace, else default)")
      .option("--lease-name <name>", "name of the leader Lease; operators that share one lead one at a time", "parley-operator")
      .option("--workers <n>", "MessagingClusters reconciled at once", positive, 2)
      .addOption(new Option("--log-level <level>", "least severe log level written").choices(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"))
      .addHelpText("after", "\nInstall with the Helm chart in charts/parley; the resource is described in docs/operator.md.")
      .action(async (options: OperatorCommandOptions) => {
        const { runOperator } = await import("./operator-run.js");
        await runOperator(options);
      });
  },
};
