import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FsBlobStore } from "../adapters/embedded/fs-blob-store.js";
import { SqliteAssetStore } from "../adapters/embedded/sqlite-asset-store.js";
import type { BlobStore } from "../ports/blob-store.js";
import { ProtocolError } from "../protocol/errors.js";
import { directConversationId, groupConversationId, type ConversationId, type UserId } from "../protocol/ids.js";
import { ManualClock } from "../testing/clock.js";
import { makeTempDir, type TempDir } from "../testing/temp-dir.js";
import { AssetService, AssetTooLargeError, LinkRefusedError, UnsupportedContentTypeError, UploadLengthMismatchError } from "./asset-service.js";
import { jpeg, pdf, png } from "./testing/media-fixtures.js";

const SECRET = "0123456789abcdef0123456789abcdef";
const GROUP = groupConversationId("g01JZ0000000000000000000001");
const ALICE_BOB = directConversationId("alice", "bob");

/** Access as a test sets it: direct conversations by their participants, groups by a member list. */
class FakeAccess {
  readonly members = new Map<ConversationId, Set<UserId>>();

  canAccess(userId: UserId, conversationId: ConversationId): Promise<boolean> {
    if (conversationId.startsWith("dm:")) return Promise.resolve(conversationId.split(":").slice(1).includes(userId));
    return Promise.resolve(this.members.get(conversationId)?.has(userId) ?? false);
  }
}

describe("AssetService", () => {
  let dir: TempDir;
  let store: SqliteAssetStore;
  let blobs: FsBlobStore;
  let puts: number;
  let access: FakeAccess;
  let clock: ManualClock;
  let service: AssetService;

  beforeEach(async () => {
    dir = await makeTempDir("parley-assets-");
    store = new SqliteAssetStore(join(dir.path, "assets.db"));
    blobs = new FsBlobStore(join(dir.path, "blobs"));
    puts = 0;
    // Counts what reaches a content address (a move from the upload's own key).
    const counting: BlobStore = {
      put: (key, bytes, contentType) => blobs.put(key, bytes, contentType),
      putStream: (key, source, contentType) => blobs.putStream(key, source, contentType),
      move: (from, to) => {
        puts++;
        return blobs.move(from, to);
      },
      get: (key) => blobs.get(key),
      openRead: (key, range) => blobs.openRead(key, range),
      has: (key) => blobs.has(key),
      delete: (key) => blobs.delete(key),
      removeStale: (prefix, before) => blobs.removeStale(prefix, before),
      close: () => blobs.close(),
    };
    access = new FakeAccess();
    clock = new ManualClock();
    service = new AssetService({
      assets: store,
      blobs: counting,
      access,
      secret: SECRET,
      limits: { image: 4096, audio: 1000, video: 1000, document: 1000 },
      linkTtlSeconds: 60,
      clock: () => new Date(clock.now()),
    });
  });

  afterEach(async () => {
    await store.close();
    await dir.remove();
  });

  const linkParams = (url: string): { assetId: string; user: string | null; expires: string | null; signature: string | null } => {
    const parsed = new URL(url, "http://parley.test");
    return {
      assetId: parsed.pathname.split("/").at(-1) ?? "",
      user: parsed.searchParams.get("user"),
      expires: parsed.searchParams.get("expires"),
      signature: parsed.searchParams.get("signature"),
    };
  };

  describe("upload", () => {
    it("stores the bytes under their sha256 and records the detected type and owner", async () => {
      const bytes = jpeg();
      const asset = await service.upload("alice", bytes);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      expect(asset).toEqual({
        assetId: expect.stringMatching(/^a[0-9A-HJKMNP-TV-Z]{26}$/) as unknown,
        ownerId: "alice",
        sha256,
        size: bytes.byteLength,
        contentType: "image/jpeg",
        createdAt: new Date(clock.now()),
      });
      expect(await store.get(asset.assetId)).toEqual(asset);
      expect(await blobs.get(`sha256/${sha256}`)).toEqual({ bytes: new Uint8Array(bytes), contentType: "image/jpeg" });
    });

    it("stores the same bytes once however many times they are uploaded, with an asset id per upload", async () => {
      const first = await service.upload("alice", png());
      const second = await service.upload("alice", png());
      const third = await service.upload("bob", png());
      expect(new Set([first.assetId, second.assetId, third.assetId]).size).toBe(3);
      expect(third.ownerId).toBe("bob");
      expect(puts).toBe(1);
      const objects = (await readdir(join(dir.path, "blobs", "sha256"))).filter((name) => !name.endsWith(".type"));
      expect(objects).toHaveLength(1);
      expect(objects[0]?.startsWith(first.sha256)).toBe(true);
      // Each upload's own key is gone once its bytes reached their address (or were dropped as duplicates).
      expect(await readdir(join(dir.path, "blobs", "uploads"))).toEqual([]);
    });

    it("streams an upload, refusing one whose body is not its declared size and keeping nothing of it", async () => {
      const bytes = png(16, 16, 1);
      const chunked = Readable.from(Array.from({ length: Math.ceil(bytes.byteLength / 100) }, (_, i) => bytes.subarray(i * 100, i * 100 + 100)));
      await expect(service.uploadStream("alice", chunked, bytes.byteLength)).resolves.toMatchObject({ size: bytes.byteLength, contentType: "image/png" });
      await expect(service.uploadStream("alice", Readable.from([bytes]), bytes.byteLength + 1)).rejects.toBeInstanceOf(UploadLengthMismatchError);
      await expect(service.uploadStream("alice", Readable.from([bytes]), bytes.byteLength - 1)).rejects.toBeInstanceOf(UploadLengthMismatchError);
      expect(puts).toBe(1);
      expect(await readdir(join(dir.path, "blobs", "uploads"))).toEqual([]);
    });

    it("refuses an upload over its kind's limit from the head alone, without reading the rest", async () => {
      const head = Buffer.from(pdf());
      let pulled = 0;
      const body = Readable.from(
        (function* () {
          yield head;
          for (;;) {
            pulled++;
            yield Buffer.alloc(1024);
          }
        })(),
      );
      await expect(service.uploadStream("alice", body, 4000)).rejects.toMatchObject({ kind: "document", limit: 1000 });
      // The head and the stream's read-ahead (16 chunks), not the rest of the declared size.
      expect(pulled).toBeLessThan(30);
      body.destroy();
    });

    it("refuses bytes of a type that is not allowed", async () => {
      await expect(service.upload("alice", new TextEncoder().encode("hello"))).rejects.toBeInstanceOf(UnsupportedContentTypeError);
      expect(puts).toBe(0);
    });

    it("applies the limit of the detected kind", async () => {
      await expect(service.upload("alice", pdf())).resolves.toMatchObject({ contentType: "application/pdf" });
      const bigPdf = Buffer.concat([pdf(), Buffer.alloc(1000)]);
      const refusal = service.upload("alice", bigPdf);
      await expect(refusal).rejects.toBeInstanceOf(AssetTooLargeError);
      await expect(refusal).rejects.toMatchObject({ kind: "document", limit: 1000, size: bigPdf.byteLength });
      // The same size is fine for an image, whose limit is larger.
      await expect(service.upload("alice", png(20, 20, 3))).resolves.toMatchObject({ contentType: "image/png" });
      expect(service.maxUploadBytes).toBe(4096);
    });
  });

  describe("attaching and reading", () => {
    it("lets the owner attach an asset, nobody else until it is shared with them", async () => {
      const asset = await service.upload("alice", png());
      await expect(service.checkAttachable("alice", [asset.assetId, asset.assetId])).resolves.toBeUndefined();
      await expect(service.checkAttachable("bob", [asset.assetId])).rejects.toMatchObject({ code: "not_found" });
      await service.recordShare([asset.assetId], ALICE_BOB);
      // Bob can read it now, so he may forward it.
      await expect(service.checkAttachable("bob", [asset.assetId])).resolves.toBeUndefined();
      await expect(service.checkAttachable("carol", [asset.assetId])).rejects.toBeInstanceOf(ProtocolError);
    });

    it("calls an unknown asset not found, even next to an attachable one", async () => {
      const asset = await service.upload("alice", png());
      await expect(service.checkAttachable("alice", [asset.assetId, "a01JZ0000000000000000000009"])).rejects.toMatchObject({
        code: "not_found",
      });
    });

    it("lets group members download while they are members", async () => {
      const asset = await service.upload("alice", png());
      access.members.set(GROUP, new Set(["alice", "bob"]));
      expect(await service.canDownload("bob", asset.assetId)).toBe(false);
      await service.recordShare([asset.assetId], GROUP);
      expect(await service.canDownload("bob", asset.assetId)).toBe(true);
      expect(await service.canDownload("carol", asset.assetId)).toBe(false);
      access.members.get(GROUP)?.delete("bob");
      expect(await service.canDownload("bob", asset.assetId)).toBe(false);
      expect(await service.canDownload("alice", asset.assetId)).toBe(true);
      expect(await service.canDownload("alice", "a01JZ0000000000000000000009")).toBe(false);
    });
  });

  describe("links", () => {
    it("opens a fresh link with the asset's bytes and the time left", async () => {
      const bytes = png();
      const asset = await service.upload("alice", bytes);
      const link = await service.createLink("alice", asset.assetId);
      expect(link.expiresAt).toEqual(new Date(clock.now() + 60_000));
      clock.advance(20_000);
      const opened = await service.openLink(linkParams(link.url));
      expect(opened).toMatchObject({ record: asset, userId: "alice", secondsLeft: 40 });
      const read = await service.read(opened.record);
      expect(read.size).toBe(bytes.byteLength);
      expect(Buffer.concat(await read.stream.toArray())).toEqual(Buffer.from(bytes));
      const range = await service.read(opened.record, { start: 1, end: 3 });
      expect(Buffer.concat(await range.stream.toArray())).toEqual(Buffer.from(bytes).subarray(1, 4));
    });

    it("refuses to make a link for someone who may not read the asset", async () => {
      const asset = await service.upload("alice", png());
      await expect(service.createLink("carol", asset.assetId)).rejects.toMatchObject({ code: "not_found" });
      await expect(service.createLink("carol", "a01JZ0000000000000000000009")).rejects.toMatchObject({ code: "not_found" });
    });

    it("refuses an expired link", async () => {
      const asset = await service.upload("alice", png());
      const link = await service.createLink("alice", asset.assetId);
      clock.advance(60_000);
      await expect(service.openLink(linkParams(link.url))).resolves.toMatchObject({ secondsLeft: 0 });
      clock.advance(1000);
      await expect(service.openLink(linkParams(link.url))).rejects.toEqual(new LinkRefusedError("expired"));
      const past = await service.createLink("alice", asset.assetId, new Date(clock.now() - 1000));
      await expect(service.openLink(linkParams(past.url))).rejects.toEqual(new LinkRefusedError("expired"));
    });

    it("re-checks access when the link is used: a removed member's link stops working", async () => {
      const asset = await service.upload("alice", png());
      access.members.set(GROUP, new Set(["alice", "bob"]));
      await service.recordShare([asset.assetId], GROUP);
      const link = await service.createLink("bob", asset.assetId);
      await expect(service.openLink(linkParams(link.url))).resolves.toMatchObject({ userId: "bob" });
      access.members.get(GROUP)?.delete("bob");
      await expect(service.openLink(linkParams(link.url))).rejects.toEqual(new LinkRefusedError("forbidden"));
    });

    it("refuses a link whose user was changed", async () => {
      const asset = await service.upload("alice", png());
      await service.recordShare([asset.assetId], ALICE_BOB);
      const link = await service.createLink("bob", asset.assetId);
      await expect(service.openLink({ ...linkParams(link.url), user: "alice" })).rejects.toEqual(new LinkRefusedError("bad_signature"));
    });
  });
});
