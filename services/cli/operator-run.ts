import { InvalidArgumentError } from "commander";
import { KubeConfigError, startOperatorProcess } from "../../operator/run.js";
import { createLogger } from "../runtime/logger.js";
import { stopOnSignals } from "./signals.js";

export interface OperatorCommandOptions {
  kubeconfig?: string;
  namespace?: string;
  selector?: string;
  metricsPort: number;
  metricsHost: string;
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName: string;
  workers: number;
  logLevel: string;
}

/** `parley operator`: runs the operator until SIGTERM or SIGINT, or until it loses the lease. */
export async function runOperator(options: OperatorCommandOptions): Promise<void> {
  const logger = createLogger(options.logLevel, { component: "operator" });
  const operator = await startOperatorProcess({
    ...(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig }),
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.selector === undefined ? {} : { selector: options.selector }),
    ...(options.leaseNamespace === undefined ? {} : { leaseNamespace: options.leaseNamespace }),
    metricsHost: options.metricsHost,
    metricsPort: options.metricsPort,
    leaderElect: options.leaderElect,
    leaseName: options.leaseName,
    workers: options.workers,
    logger,
    onLostLeadership: () => {
      logger.error("lost the leader lease: exiting so that a fresh process campaigns again");
      process.exit(1);
    },
  }).catch((error: unknown) => {
    // Bad credentials are the user's to fix: one line (parley.ts prints it), no stack trace.
    throw error instanceof KubeConfigError ? new InvalidArgumentError(error.message) : error;
  });
  logger.info({ url: operator.url }, "parley operator started");
  stopOnSignals(logger, () => operator.stop(), 10_000);
}
