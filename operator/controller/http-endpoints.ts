import { createServer, type Server } from "node:http";
import type { Logger } from "../../services/runtime/logger.js";
import type { OperatorMetrics } from "./metrics.js";

/** /healthz (the process is alive), /readyz (started: caches synced or standing by) and /metrics. */
export function createOperatorHttpServer(metrics: OperatorMetrics, ready: () => boolean, logger: Logger): Server {
  return createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const reply = (status: number, body: string, type = "application/json"): void => {
      response.writeHead(status, { "Content-Type": type });
      response.end(body);
    };
    if (path === "/healthz") reply(200, '{"status":"ok"}');
    else if (path === "/readyz") reply(ready() ? 200 : 503, ready() ? '{"status":"ready"}' : '{"status":"not ready"}');
    else if (path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => {
          reply(200, text, metrics.registry.contentType);
        },
        (error: unknown) => {
          logger.error({ err: error }, "metrics failed");
          reply(500, '{"error":"internal error"}');
        },
      );
    } else reply(404, '{"error":"not found"}');
  });
}
