import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The one HTTP address of a platform of many processes, as an ingress and a metrics
 * server give it: `/v1/assets…` goes to an assets process and anything else to a gateway
 * (each in turn), and `/metrics` is the sum of every process's metrics.
 */
export interface ClusterFront {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ClusterFrontTargets {
  gateways: readonly string[];
  assets: readonly string[];
  /** Every process whose /metrics is summed. */
  all: readonly string[];
}

export async function startClusterFront(targets: ClusterFrontTargets): Promise<ClusterFront> {
  const turns = { gateways: 0, assets: 0 };
  const next = (kind: "gateways" | "assets"): string => {
    const urls = targets[kind];
    const url = urls[turns[kind]++ % urls.length];
    if (url === undefined) throw new Error(`no ${kind} to forward to`);
    return url;
  };
  const server = createServer((incoming, response) => {
    const path = incoming.url ?? "/";
    if (incoming.method === "GET" && path === "/metrics") {
      summedMetrics(targets.all).then(
        (text) => response.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(text),
        (error: unknown) => response.writeHead(502).end(String(error)),
      );
      return;
    }
    forward(incoming, response, path.startsWith("/v1/assets") ? next("assets") : next("gateways"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function forward(incoming: IncomingMessage, response: ServerResponse, target: string): void {
  const { hostname, port } = new URL(target);
  const outgoing = request({ hostname, port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
    response.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(response);
  });
  outgoing.on("error", (error) => {
    if (response.headersSent) response.destroy(error);
    else response.writeHead(502).end(error.message);
  });
  incoming.pipe(outgoing);
}

/**
 * Every process's samples added up per name and labels, as `sum without (instance)` over
 * the scraped pods would: the cluster's totals, whichever replica counted.
 */
async function summedMetrics(urls: readonly string[]): Promise<string> {
  const texts = await Promise.all(urls.map(async (url) => (await fetch(`${url}/metrics`)).text()));
  // In the order first seen, so that each family's HELP and TYPE stay before its samples.
  const lines = new Map<string, number | null>();
  for (const text of texts) {
    for (const line of text.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("#")) {
        lines.set(line, null);
        continue;
      }
      const space = line.lastIndexOf(" ");
      const series = line.slice(0, space);
      lines.set(series, (lines.get(series) ?? 0) + Number(line.slice(space + 1)));
    }
  }
  return [...lines].map(([line, sum]) => (sum === null ? line : `${line} ${String(sum)}`)).join("\n") + "\n";
}
