#!/usr/bin/env node
/**
 * Asset transfer memory benchmark: starts `parley dev` as a child, then holds N uploads of a
 * large asset and M downloads whose clients never read in flight at once, and prints how
 * far the server's resident memory grew beside the 200 MB target. The caps are raised for
 * the run so every transfer is admitted: the figure shows streaming, not refusals. It
 * fails only when it cannot measure (the server does not start, or the run passes
 * --timeout), never because of the number.
 *
 *   node dist/services/bench/assets-memory.js [--uploads 50] [--downloads 50] [--mib 60]
 */
import { Command } from "commander";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { CliProcess, killAllCliProcesses, RAISED_LIMITS } from "./cli-process.js";
import { wholeNumber } from "./command-line.js";

const TARGET_MB = 200;
const START_TIMEOUT_MS = 20_000;
const SAMPLE_MS = 100;
const CHUNK_BYTES = 64 * 1024;

interface Options {
  uploads: number;
  downloads: number;
  mib: number;
  timeout: number;
}

function progress(text: string): void {
  process.stderr.write(`[assets-memory ${new Date().toISOString().slice(11, 23)}] ${text}\n`);
}

/**
 * `bytes` bytes that the server takes for a PNG: the signature, an IHDR chunk and the
 * header of an IDAT chunk holding the rest (type detection reads no further; nobody
 * decodes the image).
 */
function bigPng(bytes: number): Buffer {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const ihdr = Buffer.alloc(4 + 4 + 13 + 4);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write("IHDR", 4, "latin1");
  ihdr.writeUInt32BE(1, 8); // width
  ihdr.writeUInt32BE(1, 12); // height
  ihdr.writeUInt8(8, 16); // bit depth
  const idatLength = bytes - signature.byteLength - ihdr.byteLength - 8;
  const idat = Buffer.alloc(8);
  idat.writeUInt32BE(idatLength, 0);
  idat.write("IDAT", 4, "latin1");
  return Buffer.concat([signature, ihdr, idat, Buffer.alloc(idatLength, 0x5a)]);
}

/**
 * POSTs `body` as an upload, written in CHUNK_BYTES slices at the pace the server reads
 * (one shared buffer, so the benchmark itself stays small). Resolves with the status.
 */
function upload(url: string, token: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/assets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Length": String(body.byteLength) },
    });
    req.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.on("error", reject);
    let at = 0;
    const write = (): void => {
      while (at < body.byteLength) {
        const slice = body.subarray(at, at + CHUNK_BYTES);
        at += slice.byteLength;
        if (!req.write(slice)) {
          req.once("drain", write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

/** A download whose client reads its status line and then nothing more. */
async function stalledDownload(url: string, path: string): Promise<{ socket: Socket; statusLine: string }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.on("error", () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: parley\r\n\r\n`);
  await new Promise<void>((resolve) => socket.once("readable", resolve));
  const head = socket.read(15) as Buffer | null;
  return { socket, statusLine: head?.toString("latin1") ?? "" };
}

function mb(kib: number): number {
  return Math.round((kib / 1024) * 10) / 10;
}

async function main(options: Options): Promise<void> {
  const size = options.mib * 1024 * 1024;
  const limit = String(Math.max(size * 2, 1024 * 1024));
  const server = await CliProcess.dev({
    label: "assets-memory",
    startTimeoutMs: START_TIMEOUT_MS,
    logLevel: "warn",
    env: {
      ...RAISED_LIMITS,
      PARLEY_ASSET_MAX_IMAGE_BYTES: limit,
      PARLEY_ASSET_UPLOADS_IN_FLIGHT: "100000",
      PARLEY_ASSET_UPLOADS_IN_FLIGHT_PER_USER: "100000",
      PARLEY_ASSET_DOWNLOAD_BYTES_IN_FLIGHT: String(Number.MAX_SAFE_INTEGER),
      PARLEY_ASSET_DOWNLOAD_BYTES_IN_FLIGHT_PER_USER: String(Number.MAX_SAFE_INTEGER),
      // Longer than the run: the stalled downloads stay open, and in memory if they were buffered.
      PARLEY_ASSET_DOWNLOAD_IDLE_TIMEOUT_MS: String(options.timeout * 1000),
    },
  });
  const deadline = setTimeout(() => {
    progress(`passed --timeout ${options.timeout} s; stopping`);
    killAllCliProcesses();
    process.exit(2);
  }, options.timeout * 1000);
  try {
    const tokens = server.tokens();
    const body = bigPng(size);
    progress(`parley dev at ${server.url}; uploading the ${options.mib} MiB asset to download`);
    const first = await upload(server.url, await tokens.issue("owner", 3600), body);
    if (first.status !== 201) throw new Error(`the first upload was answered ${first.status}: ${first.text}`);
    const { assetId } = JSON.parse(first.text) as { assetId: string };
    const linkResponse = await fetch(`${server.url}/v1/assets/${assetId}/link`, { method: "POST", headers: { Authorization: `Bearer ${await tokens.issue("owner", 3600)}` } });
    const { url: linkPath } = (await linkResponse.json()) as { url: string };

    await server.probe({ gc: true });
    const baselineKiB = server.rssKiB() ?? 0;
    let peakKiB = baselineKiB;
    const sampler = setInterval(() => {
      peakKiB = Math.max(peakKiB, server.rssKiB() ?? 0);
    }, SAMPLE_MS);
    progress(`baseline RSS ${mb(baselineKiB)} MB; starting ${options.downloads} stalled downloads and ${options.uploads} uploads of ${options.mib} MiB`);

    const started = performance.now();
    const downloads = await Promise.all(Array.from({ length: options.downloads }, () => stalledDownload(server.url, linkPath)));
    const uploadTokens = await Promise.all(Array.from({ length: options.uploads }, (_, i) => tokens.issue(`uploader-${i}`, 3600)));
    const results = await Promise.all(uploadTokens.map((token) => upload(server.url, token, body)));
    const seconds = (performance.now() - started) / 1000;
    peakKiB = Math.max(peakKiB, server.rssKiB() ?? 0);
    const stillOpen = downloads.filter(({ socket }) => !socket.destroyed).length;
    clearInterval(sampler);
    for (const { socket } of downloads) socket.destroy();

    const statuses = new Map<number, number>();
    for (const { status } of results) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const downloadStatuses = new Map<string, number>();
    for (const { statusLine } of downloads) downloadStatuses.set(statusLine, (downloadStatuses.get(statusLine) ?? 0) + 1);
    const growthMb = mb(peakKiB - baselineKiB);
    const report = {
      uploads: options.uploads,
      downloads: options.downloads,
      assetMiB: options.mib,
      seconds: Math.round(seconds * 10) / 10,
      uploadStatuses: Object.fromEntries(statuses),
      downloadStatusLines: Object.fromEntries(downloadStatuses),
      stalledDownloadsStillOpen: stillOpen,
      baselineRssMb: mb(baselineKiB),
      peakRssMb: mb(peakKiB),
      growthMb,
      targetMb: TARGET_MB,
      withinTarget: growthMb <= TARGET_MB,
    };
    process.stdout.write(
      [
        `asset transfers: ${options.uploads} uploads + ${options.downloads} never-reading downloads of ${options.mib} MiB, all in flight at once (${report.seconds} s)`,
        `  uploads answered: ${JSON.stringify(report.uploadStatuses)}; downloads started: ${JSON.stringify(report.downloadStatusLines)}, ${stillOpen} still open at the end`,
        `  server RSS: ${report.baselineRssMb} MB before, ${report.peakRssMb} MB at peak: grew ${growthMb} MB (target: at most ${TARGET_MB} MB) ${report.withinTarget ? "OK" : "OVER"}`,
        JSON.stringify(report),
        "",
      ].join("\n"),
    );
  } finally {
    clearTimeout(deadline);
    await server.stop(15_000);
  }
}

const program = new Command("assets-memory")
  .description("resident memory of parley dev with many large uploads and stalled downloads in flight")
  .option("--uploads <n>", "concurrent uploads", wholeNumber(0, 1000), 50)
  .option("--downloads <n>", "concurrent downloads that never read", wholeNumber(0, 1000), 50)
  .option("--mib <n>", "size of each asset in MiB", wholeNumber(1, 1024), 60)
  .option("--timeout <seconds>", "give up after this long", wholeNumber(10, 3600), 300)
  .action(async (options: Options) => {
    await main(options);
  });

program.parseAsync().catch((error: unknown) => {
  killAllCliProcesses();
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
