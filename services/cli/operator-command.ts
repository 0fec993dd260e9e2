import { InvalidArgumentError, Option, type Command } from "commander";
import { startOperatorProcess } from "../../operator/run.js";
import { createLogger } from "../runtime/logger.js";
import { stopOnSignals } from "./signals.js";

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

interface OperatorCommandOptions {
  kubeconfig?: string;
  namespace?: string;
  selector?: string;
  metricsPort: number;
  metricsHost: string;
  leaderElect: boolean;
  leaseNamespace?: string;
  workers: number;
  logLevel: string;
}

/** `parley operator`: reconciles MessagingCluster resources (operator/). */
export function registerOperatorCommand(program: Command): void {
  program
    .command("operator")
    .description("run the Kubernetes operator that reconciles MessagingCluster resources (messaging.parley.io/v1alpha1)")
    .option("--kubeconfig <path>", "kubeconfig file (default: the in-cluster service account, else $KUBECONFIG or ~/.kube/config)")
    .option("--namespace <namespace>", "reconcile MessagingClusters in this namespace only (default: every namespace)")
    .option("--selector <labels>", "reconcile only MessagingClusters with these labels, e.g. parley.io/operator=canary (default: all)")
    .option("--metrics-port <port>", "port of /metrics, /healthz and /readyz", port, 8080)
    .option("--metrics-host <address>", "address /metrics, /healthz and /readyz listen on", "0.0.0.0")
    .option("--no-leader-elect", "reconcile without holding the leader Lease (only with a single replica)")
    .option("--lease-namespace <namespace>", "namespace of the leader Lease (default: $POD_NAMESPACE, else --namespace, else default)")
    .option("--workers <n>", "MessagingClusters reconciled at once", positive, 2)
    .addOption(new Option("--log-level <level>", "least severe log level written").choices(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"))
    .addHelpText("after", "\nInstall with the Helm chart in charts/parley; the resource is described in docs/operator.md.")
    .action(async (options: OperatorCommandOptions) => {
      const logger = createLogger(options.logLevel, { component: "operator" });
      const operator = await startOperatorProcess({
        ...(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig }),
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
        ...(options.selector === undefined ? {} : { selector: options.selector }),
        ...(options.leaseNamespace === undefined ? {} : { leaseNamespace: options.leaseNamespace }),
        metricsHost: options.metricsHost,
        metricsPort: options.metricsPort,
        leaderElect: options.leaderElect,
        workers: options.workers,
        logger,
        onLostLeadership: () => {
          logger.error("lost the leader lease: exiting so that a fresh process campaigns again");
          process.exit(1);
        },
      });
      logger.info({ url: operator.url }, "parley operator started");
      stopOnSignals(logger, () => operator.stop(), 10_000);
    });
}
