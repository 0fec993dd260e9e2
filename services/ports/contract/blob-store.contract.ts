import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidBlobKeyError, type BlobStore } from "../blob-store.js";

export interface BlobStoreFixture {
  /** An empty store. */
  store: BlobStore;
  /** Closes the store and removes its data. */
  cleanup: () => Promise<void>;
}

/** Keys BLOB_KEY_PATTERN refuses, among them every way out of a directory. */
export const INVALID_BLOB_KEYS = [
  "../x",
  "a/../../b",
  "/abs",
  "a//b",
  "a/",
  "A",
  "",
  "a.b",
  "..",
  "a\\b",
  "a/b/c/d/e/f/g/h/i",
  "x".repeat(129),
];

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** `size` bytes that differ from position to position, so a shifted or repeated part shows. */
function patterned(size: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) buffer.writeUInt32LE(i, i);
  return buffer;
}

/** A source that yields `data` in chunks of `chunkBytes`, then fails with `failure` if given. */
function sourceOf(data: Buffer, chunkBytes: number, failure?: Error): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.byteLength; at += chunkBytes) yield data.subarray(at, at + chunkBytes);
      if (failure) throw failure;
    })(),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The semantics every BlobStore adapter must have. */
export function describeBlobStoreContract(name: string, create: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it("returns what was put, with its content type", async () => {
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      await store.put("assets/a01/original", every, "image/png");
      const blob = await store.get("assets/a01/original");
      expect(blob?.contentType).toBe("image/png");
      expect(blob?.bytes).toBeInstanceOf(Uint8Array);
      expect(Array.from(blob?.bytes ?? [])).toEqual(Array.from(every));
    });

    it("keeps a key and a key below it side by side", async () => {
      await store.put("a", Uint8Array.from([1]), "text/plain");
      await store.put("a/b", Uint8Array.from([2]), "text/plain");
      expect((await store.get("a"))?.bytes).toEqual(Uint8Array.from([1]));
      expect((await store.get("a/b"))?.bytes).toEqual(Uint8Array.from([2]));
      await store.delete("a");
      expect(await store.has("a")).toBe(false);
      expect(await store.has("a/b")).toBe(true);
    });

    it("stores an empty object", async () => {
      await store.put("empty", new Uint8Array(0), "application/octet-stream");
      const blob = await store.get("empty");
      expect(blob?.bytes.byteLength).toBe(0);
      expect(blob?.contentType).toBe("application/octet-stream");
      expect(await store.has("empty")).toBe(true);
    });

    it("stores a copy: changing the caller's bytes afterwards changes nothing", async () => {
      const original = bytes(1, 2, 3);
      await store.put("k", original, "text/plain");
      original[0] = 9;
      const first = await store.get("k");
      if (first) first.bytes[1] = 9;
      expect(Array.from((await store.get("k"))?.bytes ?? [])).toEqual([1, 2, 3]);
    });

    it("returns null and false for a key without an object", async () => {
      await store.put("present", bytes(1), "text/plain");
      expect(await store.get("absent")).toBeNull();
      expect(await store.has("absent")).toBe(false);
      expect(await store.has("present")).toBe(true);
    });

    it("deletes an object, and deleting a missing one is not an error", async () => {
      await store.put("doomed", bytes(1), "text/plain");
      await store.put("kept", bytes(2), "text/plain");
      await store.delete("doomed");
      expect(await store.get("doomed")).toBeNull();
      expect(await store.has("doomed")).toBe(false);
      expect(await store.has("kept")).toBe(true);
      await expect(store.delete("doomed")).resolves.toBeUndefined();
      await expect(store.delete("never-was")).resolves.toBeUndefined();
    });

    it("replaces an object put again under the same key", async () => {
      await store.put("k", bytes(1, 1, 1, 1), "text/plain");
      await store.put("k", bytes(2), "image/gif");
      const blob = await store.get("k");
      expect(blob?.contentType).toBe("image/gif");
      expect(Array.from(blob?.bytes ?? [])).toEqual([2]);
    });

    it("keeps objects under different keys apart", async () => {
      await store.put("a/one", bytes(1), "text/plain");
      await store.put("a/two", bytes(2), "image/png");
      await store.put("b/one", bytes(3), "audio/ogg");
      expect(await store.get("a/one")).toEqual({ bytes: bytes(1), contentType: "text/plain" });
      expect(await store.get("a/two")).toEqual({ bytes: bytes(2), contentType: "image/png" });
      expect(await store.get("b/one")).toEqual({ bytes: bytes(3), contentType: "audio/ogg" });
    });

    it("accepts the longest and deepest keys the pattern allows", async () => {
      const keys = ["x".repeat(128), "a/b/c/d/e/f/g/h", "0_-9/z"];
      for (const key of keys) await store.put(key, bytes(7), "text/plain");
      for (const key of keys) expect(await store.has(key)).toBe(true);
    });

    describe("streaming", () => {
      // Larger than two S3 parts (5 MiB each), so multipart uploads and their joins are covered.
      const large = patterned(11 * 1024 * 1024 + 3);

      it("stores what a stream yields and streams it back whole, with its size and type", async () => {
        await store.putStream("big", sourceOf(large, 64 * 1024 + 1), "video/mp4");
        const read = await store.openRead("big");
        expect(read?.size).toBe(large.byteLength);
        expect(read?.contentType).toBe("video/mp4");
        expect(sha256(await readAll(read?.stream ?? Readable.from([])))).toBe(sha256(large));
        expect((await store.get("big"))?.bytes.byteLength).toBe(large.byteLength);
      });

      it("stores a small and an empty stream", async () => {
        await store.putStream("small", sourceOf(Buffer.from([1, 2, 3]), 1), "text/plain");
        await store.putStream("none", sourceOf(Buffer.alloc(0), 1), "text/plain");
        expect(await store.get("small")).toEqual({ bytes: bytes(1, 2, 3), contentType: "text/plain" });
        expect((await store.get("none"))?.bytes.byteLength).toBe(0);
      });

      it("streams exactly the bytes of a range, and names the whole object's size", async () => {
        await store.putStream("big", sourceOf(large, 1024 * 1024), "video/mp4");
        for (const [start, end] of [[0, 0], [5, 9], [5 * 1024 * 1024 - 2, 5 * 1024 * 1024 + 1], [large.byteLength - 7, large.byteLength - 1]] as const) {
          const read = await store.openRead("big", { start, end });
          expect(read?.size).toBe(large.byteLength);
          expect(await readAll(read?.stream ?? Readable.from([]))).toEqual(large.subarray(start, end + 1));
        }
      });

      it("refuses a range that is not within the object", async () => {
        await store.put("k", bytes(1, 2, 3), "text/plain");
        await expect(store.openRead("k", { start: 3, end: 3 })).rejects.toThrow(RangeError);
        await expect(store.openRead("k", { start: 1, end: 3 })).rejects.toThrow(RangeError);
        await expect(store.openRead("k", { start: 2, end: 1 })).rejects.toThrow(RangeError);
      });

      it("opens nothing for a key without an object", async () => {
        expect(await store.openRead("absent")).toBeNull();
        expect(await store.openRead("absent", { start: 0, end: 0 })).toBeNull();
      });

      it("stores nothing when the source fails, and keeps the object that was there", async () => {
        await store.put("kept", bytes(7), "text/plain");
        const failure = new Error("the client went away");
        await expect(store.putStream("kept", sourceOf(large, 256 * 1024, failure), "video/mp4")).rejects.toThrow(failure.message);
        await expect(store.putStream("fresh", sourceOf(Buffer.from([1]), 1, failure), "video/mp4")).rejects.toThrow(failure.message);
        expect(await store.get("kept")).toEqual({ bytes: bytes(7), contentType: "text/plain" });
        expect(await store.has("fresh")).toBe(false);
      });

      it("moves an object with its type, replacing what was at the target", async () => {
        await store.putStream("uploads/u1", sourceOf(large, 1024 * 1024), "audio/ogg");
        await store.put("sha256/x", bytes(1), "text/plain");
        await store.move("uploads/u1", "sha256/x");
        expect(await store.has("uploads/u1")).toBe(false);
        const read = await store.openRead("sha256/x");
        expect(read?.contentType).toBe("audio/ogg");
        expect(sha256(await readAll(read?.stream ?? Readable.from([])))).toBe(sha256(large));
        await store.move("sha256/x", "elsewhere");
        expect(await store.has("sha256/x")).toBe(false);
        expect((await store.get("elsewhere"))?.contentType).toBe("audio/ogg");
      });
    });

    it("removes the objects under a prefix written before a time, and nothing else", async () => {
      await store.put("uploads/a", bytes(1), "text/plain");
      await store.putStream("uploads/b/c", sourceOf(Buffer.from([2]), 1), "text/plain");
      await store.put("uploadsx", bytes(3), "text/plain");
      await store.put("sha256/d", bytes(4), "text/plain");
      const longAgo = new Date(Date.now() - 3600_000);
      expect(await store.removeStale("uploads", longAgo)).toBe(0);
      expect(await store.has("uploads/a")).toBe(true);

      // Clocks of a store server and of this process may differ by a little: "before" is well ahead.
      expect(await store.removeStale("uploads", new Date(Date.now() + 3600_000))).toBe(2);
      expect(await store.has("uploads/a")).toBe(false);
      expect(await store.has("uploads/b/c")).toBe(false);
      expect(await store.get("uploadsx")).toEqual({ bytes: bytes(3), contentType: "text/plain" });
      expect(await store.has("sha256/d")).toBe(true);
      expect(await store.removeStale("uploads", new Date(Date.now() + 3600_000))).toBe(0);
      await expect(async () => store.removeStale("../x", new Date())).rejects.toThrow(InvalidBlobKeyError);
    });

    it.each(INVALID_BLOB_KEYS.map((key) => [JSON.stringify(key), key]))("refuses the key %s everywhere", async (_, key) => {
      // Wrapped in async functions, so an adapter that throws synchronously is still checked.
      await expect(async () => store.put(key, bytes(1), "text/plain")).rejects.toThrow(InvalidBlobKeyError);
      await expect(async () => store.putStream(key, sourceOf(Buffer.from([1]), 1), "text/plain")).rejects.toThrow(InvalidBlobKeyError);
      await expect(async () => store.openRead(key)).rejects.toThrow(InvalidBlobKeyError);
      await store.put("valid", bytes(1), "text/plain");
      await expect(async () => store.move("valid", key)).rejects.toThrow(InvalidBlobKeyError);
      await expect(async () => store.move(key, "valid")).rejects.toThrow(InvalidBlobKeyError);
      await expect(async () => store.get(key)).rejects.toThrow(InvalidBlobKeyError);
      await expect(async () => store.has(key)).rejects.toThrow(InvalidBlobKeyError);
      await expect(async () => store.delete(key)).rejects.toThrow(InvalidBlobKeyError);
    });
  });
}
