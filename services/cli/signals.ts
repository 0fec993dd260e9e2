import type { Logger } from "../runtime/logger.js";

/** How long closing the back ends may take after the drain before the process exits anyway. */
const CLOSE_DEADLINE_MS = 15_000;

/**
 * SIGTERM or SIGINT: stop gracefully and exit; a second signal exits at once, and so
 * does a stop that hangs (a back end that never answers its close) past the deadline.
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>, drainMs: number): void {
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals += 1;
    if (signals > 1) process.exit(1);
    logger.info({ signal }, "shutting down: clients are told to reconnect");
    setTimeout(() => {
      logger.error({ deadlineMs: drainMs + CLOSE_DEADLINE_MS }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, drainMs + CLOSE_DEADLINE_MS).unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
