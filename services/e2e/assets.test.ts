import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AssetLinkSigner } from "../assets/asset-links.js";
import { jpeg, pdf, png } from "../assets/testing/media-fixtures.js";
import { ParleyRequestError, type ParleyClient } from "../client/parley-client.js";
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

    const alice = await platform.connect("alice");
    const bob = EventCollector.of(await platform.connect("bob"));
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
    const alice = await platform.connect("alice");
    const bob = await platform.connect("bob");
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
    const alice = await platform.connect("alice");
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
    const mallory = await platform.connect("mallory");
    await expect(sendAssets(mallory, "bob", [asset.assetId])).rejects.toEqual(expect.objectContaining({ code: "not_found" }) as unknown);
    await expect(sendAssets(mallory, "bob", ["a01JZ0000000000000000000009"])).rejects.toBeInstanceOf(ParleyRequestError);
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
