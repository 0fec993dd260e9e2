import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AssetLinkSigner } from "../assets/asset-links.js";
import { jpeg, pdf, png } from "../assets/testing/media-fixtures.js";
import { ParleyError, type ParleyClient } from "../sdk/index.js";
import { EventCollector } from "./support/event-collector.js";
import { startTestPlatform, type TestPlatform } from "./support/test-platform.js";

const SECRET = "e2e-assets-secret-0123456789abcdef-0123456789";

interface UploadedAsset {
  assetId: string;
  contentType: string;
  size: number;
  sha256: string;
}

interface ErrorBody {
  error: string;
  code: string;
}

let platform: TestPlatform;

beforeAll(async () => {
  platform = await startTestPlatform({ jwtSecret: SECRET });
});

afterAll(async () => {
  await platform.dispose();
});

async function upload(on: TestPlatform, userId: string, bytes: Uint8Array, contentType = "application/octet-stream"): Promise<Response> {
  return fetch(`${on.url}/v1/assets`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await on.token(userId)}`, "Content-Type": contentType },
    body: bytes,
  });
}

async function uploaded(userId: string, bytes: Uint8Array): Promise<UploadedAsset> {
  const response = await upload(platform, userId, bytes);
  expect(response.status).toBe(201);
  return (await response.json()) as UploadedAsset;
}

async function requestLink(userId: string, assetId: string): Promise<Response> {
  return fetch(`${platform.url}/v1/assets/${assetId}/link`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await platform.token(userId)}` },
  });
}

async function linkFor(userId: string, assetId: string): Promise<URL> {
  const response = await requestLink(userId, assetId);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { url: string; expiresAt: string };
  return new URL(body.url, platform.url);
}

async function expectError(response: Response, status: number, code: string): Promise<ErrorBody> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/json");
  const body = (await response.json()) as ErrorBody;
  expect(body).toEqual({ error: expect.any(String) as unknown, code });
  return body;
}

async function sendAssets(client: ParleyClient, to: string, assets: string[]): Promise<unknown> {
  return client.request({ type: "send", to, clientMessageId: randomBytes(8).toString("hex"), body: { assets } });
}

describe("sharing an asset in a conversation", () => {
  it("lets the recipient download exactly the uploaded bytes through a signed link", async () => {
    const bytes = png(8, 8, 42);
    const asset = await uploaded("alice", bytes);
    expect(asset).toEqual({
      assetId: expect.stringMatching(/^a[0-9A-HJKMNP-TV-Z]{26}$/) as unknown,
      contentType: "image/png",
      size: bytes.byteLength,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });

    const alice = await platform.open("alice");
    const bob = EventCollector.of(await platform.open("bob"));
    const ack = await sendAssets(alice, "bob", [asset.assetId]);
    expect(ack).toMatchObject({ type: "ack", message: { body: { assets: [asset.assetId] } } });
    const [message] = await bob.untilMessages(1);
    expect(message?.body.assets).toEqual([asset.assetId]);

    const before = Date.now();
    const linkResponse = await requestLink("bob", asset.assetId);
    expect(linkResponse.status).toBe(200);
    const link = (await linkResponse.json()) as { url: string; expiresAt: string };
    expect(link.url).toMatch(new RegExp(`^/v1/assets/${asset.assetId}\\?user=bob&expires=[0-9]+&signature=[A-Za-z0-9_-]{43}$`));
    const expiresAt = Date.parse(link.expiresAt);
    expect(expiresAt).toBeGreaterThan(before + 250_000); // default TTL 300 s, to the second
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 300_000);

    const download = await fetch(new URL(link.url, platform.url));
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("image/png");
    expect(download.headers.get("content-disposition")).toBe(`attachment; filename="${asset.assetId}.png"`);
    expect(download.headers.get("x-content-type-options")).toBe("nosniff");
    expect(download.headers.get("cache-control")).toMatch(/^private, max-age=(29\d|300)$/);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(Buffer.from(bytes));

    // The sender, as owner, may download too; HEAD gives the headers alone.
    const head = await fetch(await linkFor("alice", asset.assetId), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.byteLength));
  });

  it("lets a recipient forward the asset, and the new recipient download it", async () => {
    const asset = await uploaded("alice", jpeg());
    const alice = await platform.open("alice");
    const bob = await platform.open("bob");
    await sendAssets(alice, "bob", [asset.assetId]);
    await expectError(await requestLink("dave", asset.assetId), 404, "not_found");
    await sendAssets(bob, "dave", [asset.assetId]);
    const download = await fetch(await linkFor("dave", asset.assetId));
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("image/jpeg");
  });
});

describe("who may download", () => {
  let asset: UploadedAsset;
  let bobsLink: URL;

  beforeAll(async () => {
    asset = await uploaded("alice", pdf());
    const alice = await platform.open("alice");
    await sendAssets(alice, "bob", [asset.assetId]);
    bobsLink = await linkFor("bob", asset.assetId);
  });

  it("refuses a link to a user the asset was not shared with exactly as for a missing asset", async () => {
    const unshared = await requestLink("carol", asset.assetId);
    const missing = await requestLink("carol", "a01JZ0000000000000000000009");
    expect(unshared.status).toBe(404);
    const [unsharedBody, missingBody] = (await Promise.all([unshared.json(), missing.json()])) as { error: string; code: string }[];
    expect(unsharedBody?.code).toBe("not_found");
    expect(unsharedBody?.error.replace(asset.assetId, "<id>")).toBe(missingBody?.error.replace("a01JZ0000000000000000000009", "<id>"));
    await expectError(await requestLink("carol", "a01JZ0000000000000000000009"), 404, "not_found");
  });

  it("refuses a link whose user was changed", async () => {
    const tampered = new URL(bobsLink);
    tampered.searchParams.set("user", "carol");
    await expectError(await fetch(tampered), 403, "bad_signature");
    const alicesTurn = new URL(bobsLink);
    alicesTurn.searchParams.set("user", "alice");
    await expectError(await fetch(alicesTurn), 403, "bad_signature");
  });

  it("refuses a link whose signature or expiry was changed, or that has none", async () => {
    const later = new URL(bobsLink);
    later.searchParams.set("expires", String(Number(bobsLink.searchParams.get("expires")) + 3600));
    await expectError(await fetch(later), 403, "bad_signature");
    const resigned = new URL(bobsLink);
    resigned.searchParams.set("signature", "A".repeat(43));
    await expectError(await fetch(resigned), 403, "bad_signature");
    const bare = new URL(bobsLink);
    bare.search = "";
    await expectError(await fetch(bare), 400, "bad_request");
  });

  it("refuses bob's link presented with carol's token", async () => {
    const response = await fetch(bobsLink, { headers: { Authorization: `Bearer ${await platform.token("carol")}` } });
    await expectError(response, 403, "forbidden");
    const asBob = await fetch(bobsLink, { headers: { Authorization: `Bearer ${await platform.token("bob")}` } });
    expect(asBob.status).toBe(200);
  });

  it("refuses an expired link with 410", async () => {
    const expired = new AssetLinkSigner(SECRET).sign({ assetId: asset.assetId, userId: "bob", expires: Math.floor(Date.now() / 1000) - 1 });
    const url = new URL(new AssetLinkSigner(SECRET).path(expired), platform.url);
    const body = await expectError(await fetch(url), 410, "link_expired");
    expect(body.error).toMatch(/expired/);
    // The same link signed with another key is a bad signature, expired or not.
    const forged = new AssetLinkSigner("some-other-secret-0123456789abcdef").sign({ assetId: asset.assetId, userId: "bob", expires: 1 });
    await expectError(await fetch(new URL(new AssetLinkSigner(SECRET).path(forged), platform.url)), 403, "bad_signature");
  });

  it("needs a valid token to upload or to get a link", async () => {
    const noToken = await fetch(`${platform.url}/v1/assets/${asset.assetId}/link`, { method: "POST" });
    await expectError(noToken, 401, "unauthorized");
    expect(noToken.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const badToken = await fetch(`${platform.url}/v1/assets`, { method: "POST", headers: { Authorization: "Bearer nope" }, body: png() });
    await expectError(badToken, 401, "unauthorized");
  });

  it("validates asset ids before any lookup and serves no other paths", async () => {
    await expectError(await fetch(`${platform.url}/v1/assets/..%2F..%2Fdev-jwt-secret?user=bob&expires=1&signature=x`), 400, "bad_request");
    await expectError(await fetch(`${platform.url}/v1/assets/${asset.assetId.toLowerCase()}`), 400, "bad_request");
    await expectError(await fetch(`${platform.url}/v1/assets/${asset.assetId}/link/more`, { method: "POST" }), 404, "not_found");
    const wrongMethod = await fetch(`${platform.url}/v1/assets`);
    await expectError(wrongMethod, 405, "method_not_allowed");
    expect(wrongMethod.headers.get("allow")).toBe("POST");
  });
});

describe("uploads", () => {
  it("goes by the bytes, not the client's Content-Type", async () => {
    const claimedPdf = await upload(platform, "alice", png(), "application/pdf");
    expect(claimedPdf.status).toBe(201);
    expect(await claimedPdf.json()).toMatchObject({ contentType: "image/png" });
    const text = await upload(platform, "alice", new TextEncoder().encode("<svg onload=alert(1)> not an image"), "image/png");
    const body = await expectError(text, 415, "unsupported_media_type");
    expect(body.error).toMatch(/JPEG, PNG/);
  });

  it("stores the same bytes once and gives each upload its own asset", async () => {
    const bytes = png(4, 4, 7);
    const first = await uploaded("alice", bytes);
    const second = await uploaded("bob", bytes);
    expect(second.assetId).not.toBe(first.assetId);
    expect(second.sha256).toBe(first.sha256);
    const objects = (await readdir(join(platform.dataDir, "blobs", "sha256"))).filter((name) => name.startsWith(first.sha256) && !name.endsWith(".type"));
    expect(objects).toHaveLength(1);
    // Bob owns his upload of the same bytes, but not alice's.
    await expectError(await requestLink("bob", first.assetId), 404, "not_found");
    expect((await requestLink("bob", second.assetId)).status).toBe(200);
  });

  it("needs a Content-Length", async () => {
    const chunked = await fetch(`${platform.url}/v1/assets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await platform.token("alice")}` },
      body: new Blob([new Uint8Array(png())]).stream(),
      duplex: "half",
    });
    await expectError(chunked, 411, "length_required");
    await expectError(await upload(platform, "alice", new Uint8Array(0)), 400, "bad_request");
  });
});

describe("attaching", () => {
  it("refuses a message with someone else's unshared asset as if it were unknown", async () => {
    const asset = await uploaded("alice", png(2, 2, 9));
    const mallory = await platform.open("mallory");
    await expect(sendAssets(mallory, "bob", [asset.assetId])).rejects.toEqual(expect.objectContaining({ code: "not_found" }) as unknown);
    await expect(sendAssets(mallory, "bob", ["a01JZ0000000000000000000009"])).rejects.toBeInstanceOf(ParleyError);
    await expect(sendAssets(mallory, "bob", ["a01JZ0000000000000000000009"])).rejects.toMatchObject({ code: "not_found" });
    // Nothing was shared: mallory still cannot get a link.
    await expectError(await requestLink("mallory", asset.assetId), 404, "not_found");
  });
});

describe("size limits", () => {
  let small: TestPlatform;

  beforeAll(async () => {
    small = await startTestPlatform({ assetMaxImageBytes: 1024, assetMaxAudioBytes: 1024, assetMaxVideoBytes: 4096, assetMaxDocumentBytes: 1024 });
  });

  afterAll(async () => {
    await small.dispose();
  });

  it("refuses an image over the image limit with 413", async () => {
    const bytes = png(32, 32, 5);
    expect(bytes.byteLength).toBeGreaterThan(1024);
    expect(bytes.byteLength).toBeLessThan(4096);
    const body = await expectError(await upload(small, "alice", bytes, "image/png"), 413, "too_large");
    expect(body.error).toMatch(/image limit is 1024 bytes/);
    expect((await upload(small, "alice", png())).status).toBe(201);
  });

  it("refuses a body over every limit before reading it", async () => {
    const body = await expectError(await upload(small, "alice", new Uint8Array(4097)), 413, "too_large");
    expect(body.error).toMatch(/no asset may be larger than 4096 bytes/);
  });

  it("refuses a large image as soon as its first bytes show the kind", async () => {
    const tenMiB = Buffer.concat([png(32, 32, 6), Buffer.alloc(10 * 1024 * 1024)]);
    const bigger = await startTestPlatform({ assetMaxImageBytes: 1024 });
    try {
      const body = await expectError(await upload(bigger, "alice", tenMiB), 413, "too_large");
      expect(body.error).toMatch(/image limit is 1024 bytes/);
      // The server is still fine afterwards.
      expect((await upload(bigger, "alice", png())).status).toBe(201);
    } finally {
      await bigger.dispose();
    }
  });
});

/** A request written by hand on its own connection, so a test can stop reading or sending mid-way. */
async function rawConnection(on: TestPlatform): Promise<Socket> {
  const { hostname, port } = new URL(on.url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return socket;
}

/**
 * Sends a GET on its own connection and reads no more than the status line: the download
 * has started (and holds its bytes in flight) while its client reads nothing.
 */
async function stalledDownload(on: TestPlatform, link: URL): Promise<Socket> {
  const socket = await rawConnection(on);
  socket.write(`GET ${link.pathname}${link.search} HTTP/1.1\r\nHost: parley\r\n\r\n`);
  await new Promise<void>((resolve) => socket.once("readable", resolve));
  const statusLine = socket.read(15) as Buffer | null;
  expect(statusLine?.toString("latin1")).toBe("HTTP/1.1 200 OK");
  return socket;
}

/** Everything the server sends until it closes the connection, however it closes it. */
async function receivedUntilClosed(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => undefined);
  socket.resume();
  await new Promise<void>((resolve) => socket.once("close", () => { resolve(); }));
  return Buffer.concat(chunks);
}

/** A PNG padded to `size` bytes: detected as an image, large enough to stream. */
function bigPng(size: number): Buffer {
  const head = Buffer.from(png(8, 8, 3));
  return Buffer.concat([head, Buffer.alloc(size - head.byteLength, 0x5a)]);
}

describe("range requests", () => {
  let bytes: Buffer;
  let link: URL;
  let asset: UploadedAsset;

  beforeAll(async () => {
    bytes = Buffer.concat([Buffer.from(png(8, 8, 11)), randomBytes(100_000)]);
    asset = await uploaded("alice", bytes);
    link = await linkFor("alice", asset.assetId);
  });

  it("serves one range with 206, its Content-Range and exactly its bytes", async () => {
    const response = await fetch(link, { headers: { Range: "bytes=10-19" } });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes 10-19/${bytes.byteLength}`);
    expect(response.headers.get("content-length")).toBe("10");
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes.subarray(10, 20));

    const tail = await fetch(link, { headers: { Range: "bytes=-5" } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get("content-range")).toBe(`bytes ${bytes.byteLength - 5}-${bytes.byteLength - 1}/${bytes.byteLength}`);
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(bytes.subarray(bytes.byteLength - 5));

    const rest = await fetch(link, { headers: { Range: "bytes=50000-" } });
    expect(rest.status).toBe(206);
    expect(Buffer.from(await rest.arrayBuffer())).toEqual(bytes.subarray(50_000));
  });

  it("says it takes ranges, with a strong ETag, on a whole download", async () => {
    const response = await fetch(link);
    expect(response.status).toBe(200);
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(response.headers.get("etag")).toBe(`"${asset.sha256}"`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
  });

  it("answers a range past the end with 416 and the size", async () => {
    const response = await fetch(link, { headers: { Range: `bytes=${bytes.byteLength}-` } });
    await expectError(response, 416, "range_not_satisfiable");
    expect(response.headers.get("content-range")).toBe(`bytes */${bytes.byteLength}`);
  });

  it("sends the whole asset for several ranges, or a range under an If-Range that no longer matches", async () => {
    const several = await fetch(link, { headers: { Range: "bytes=0-1,5-6" } });
    expect(several.status).toBe(200);
    expect(Buffer.from(await several.arrayBuffer())).toEqual(bytes);
    const stale = await fetch(link, { headers: { Range: "bytes=0-1", "If-Range": '"not-this-one"' } });
    expect(stale.status).toBe(200);
    await stale.body?.cancel();
    const current = await fetch(link, { headers: { Range: "bytes=0-1", "If-Range": `"${asset.sha256}"` } });
    expect(current.status).toBe(206);
    await current.body?.cancel();
  });
});

describe("caps on transfers in flight", () => {
  it("answers a user's upload past their cap 429 and anyone's past the process cap 503, both with Retry-After", async () => {
    const capped = await startTestPlatform({ assetUploadsInFlight: 1, assetUploadsInFlightPerUser: 1 });
    try {
      const held = bigPng(1024 * 1024);
      const socket = await rawConnection(capped);
      const headers = `Host: parley\r\nConnection: close\r\nAuthorization: Bearer ${await capped.token("alice")}\r\nContent-Length: ${held.byteLength}`;
      socket.write(`POST /v1/assets HTTP/1.1\r\n${headers}\r\n\r\n`);
      socket.write(held.subarray(0, 64 * 1024));
      // The held upload is in flight once alice's next one is refused.
      const refused = await vi.waitFor(async () => {
        const response = await upload(capped, "alice", png());
        expect(response.status).toBe(429);
        return response;
      });
      expect(refused.headers.get("retry-after")).toBe("5");
      await expectError(refused, 429, "too_many_requests");
      const full = await upload(capped, "bob", png());
      expect(full.headers.get("retry-after")).toBe("5");
      await expectError(full, 503, "unavailable");

      // The held upload completes; then there is room again.
      socket.write(held.subarray(64 * 1024));
      const answer = (await receivedUntilClosed(socket)).toString("latin1");
      expect(answer).toMatch(/^HTTP\/1\.1 201 /);
      expect(answer).toContain(`"size":${held.byteLength}`);
      expect((await upload(capped, "bob", png())).status).toBe(201);
    } finally {
      await capped.dispose();
    }
  });

  it("answers downloads past the bytes in flight 429 (user) or 503 (process), and cuts off a client that stops reading", async () => {
    const capped = await startTestPlatform({
      jwtSecret: SECRET,
      assetDownloadBytesInFlight: 1,
      assetDownloadBytesInFlightPerUser: 1,
      assetDownloadIdleTimeoutMs: 500,
      assetMaxImageBytes: 256 * 1024 * 1024,
    });
    try {
      // Far larger than the loopback socket buffers (autotuned up to 32 MiB here), so a
      // client that reads nothing stalls the server.
      const bytes = bigPng(128 * 1024 * 1024);
      const response = await upload(capped, "alice", bytes);
      expect(response.status).toBe(201);
      const { assetId } = (await response.json()) as UploadedAsset;
      const linkResponse = await fetch(`${capped.url}/v1/assets/${assetId}/link`, { method: "POST", headers: { Authorization: `Bearer ${await capped.token("alice")}` } });
      const link = new URL(((await linkResponse.json()) as { url: string }).url, capped.url);

      const stalled = await stalledDownload(capped, link);
      const refused = await fetch(link);
      expect(refused.headers.get("retry-after")).toBe("5");
      await expectError(refused, 429, "too_many_requests");

      // The stalled download is cut off after the idle timeout, which frees its bytes.
      const after = await vi.waitFor(
        async () => {
          const again = await fetch(link, { headers: { Range: "bytes=0-9" } });
          expect(again.status).toBe(206);
          return again;
        },
        { timeout: 10_000, interval: 100 },
      );
      expect(Buffer.from(await after.arrayBuffer())).toEqual(bytes.subarray(0, 10));
      const received = await receivedUntilClosed(stalled);
      expect(received.byteLength).toBeLessThan(bytes.byteLength);
    } finally {
      await capped.dispose();
    }
  });

  it("counts only the bytes a download has still to send: a reader that took most of an asset holds only the rest", async () => {
    const mebibyte = 1024 * 1024;
    const capped = await startTestPlatform({
      jwtSecret: SECRET,
      assetDownloadBytesInFlightPerUser: 100 * mebibyte,
      assetDownloadIdleTimeoutMs: 60_000,
      assetMaxImageBytes: 256 * mebibyte,
    });
    try {
      const bytes = bigPng(128 * mebibyte);
      const response = await upload(capped, "alice", bytes);
      const { assetId } = (await response.json()) as UploadedAsset;
      const link = await fetch(`${capped.url}/v1/assets/${assetId}/link`, { method: "POST", headers: { Authorization: `Bearer ${await capped.token("alice")}` } });
      const url = new URL(((await link.json()) as { url: string }).url, capped.url);
      const tenMebibytes = { Range: `bytes=0-${10 * mebibyte - 1}` };

      // 128 MiB still to send: 10 MiB more would pass alice's 100 MiB.
      const slow = await stalledDownload(capped, url);
      const whileUnread = await fetch(url, { headers: tenMebibytes });
      await expectError(whileUnread, 429, "too_many_requests");

      // The slow reader takes 100 MiB and stops: what it holds is what it has not taken.
      let taken = 0;
      await new Promise<void>((resolve) => {
        const take = (): void => {
          for (let chunk = slow.read() as Buffer | null; chunk !== null; chunk = slow.read() as Buffer | null) taken += chunk.byteLength;
          if (taken >= 100 * mebibyte) {
            slow.off("readable", take);
            resolve();
          }
        };
        slow.on("readable", take);
        take();
      });
      const whileSlow = await fetch(url, { headers: tenMebibytes });
      expect(whileSlow.status).toBe(206);
      expect(Buffer.from(await whileSlow.arrayBuffer()).byteLength).toBe(10 * mebibyte);
      slow.destroy();
    } finally {
      await capped.dispose();
    }
  });

  it("answers a download past the process's bytes in flight 503 while another user's is stalled", async () => {
    const capped = await startTestPlatform({ jwtSecret: SECRET, assetDownloadBytesInFlight: 1, assetDownloadIdleTimeoutMs: 60_000, assetMaxImageBytes: 256 * 1024 * 1024 });
    try {
      const bytes = bigPng(128 * 1024 * 1024);
      const response = await upload(capped, "alice", bytes);
      const { assetId } = (await response.json()) as UploadedAsset;
      const signer = new AssetLinkSigner(SECRET);
      const linkOf = (userId: string): URL => new URL(signer.path(signer.sign({ assetId, userId, expires: Math.floor(Date.now() / 1000) + 60 })), capped.url);

      const stalled = await stalledDownload(capped, linkOf("alice"));
      // Alice owns the asset; bob's link is refused for the process's sake, not his own.
      await sendAssets(await capped.open("alice"), "bob", [assetId]);
      const refused = await fetch(linkOf("bob"), { headers: { Range: "bytes=0-0" } });
      expect(refused.headers.get("retry-after")).toBe("5");
      await expectError(refused, 503, "unavailable");
      stalled.destroy();
    } finally {
      await capped.dispose();
    }
  });
});
