import { readdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeBlobStoreContract, INVALID_BLOB_KEYS } from "../../ports/contract/blob-store.contract.js";
import { makeTempDir, type TempDir } from "../../testing/temp-dir.js";
import { FsBlobStore } from "./fs-blob-store.js";

describeBlobStoreContract("FsBlobStore", async () => {
  const dir = await makeTempDir("parley-blobs-");
  const store = new FsBlobStore(join(dir.path, "blobs"));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dir.remove();
    },
  };
});

/** Every file and directory under `dir`, relative to it. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

describe("FsBlobStore", () => {
  let parent: TempDir;
  let store: FsBlobStore;

  beforeEach(async () => {
    parent = await makeTempDir("parley-blobs-");
    store = new FsBlobStore(join(parent.path, "nested", "root"));
  });

  afterEach(async () => {
    await store.close();
    await parent.remove();
  });

  it("writes nothing outside its root, whatever key it is given", async () => {
    await store.put("inside", Uint8Array.from([1]), "text/plain");
    const before = await listTree(parent.path);
    for (const key of [...INVALID_BLOB_KEYS, "../../escaped", "../sibling/x", "a/../../../../up"]) {
      await expect(store.put(key, Uint8Array.from([6, 6, 6]), "text/plain")).rejects.toThrow();
      await expect(store.delete(key)).rejects.toThrow();
    }
    expect(await listTree(parent.path)).toEqual(before);
    expect(before).toEqual(["nested", "nested/root", "nested/root/inside.blob", "nested/root/inside.type"]);
  });

  it("leaves no temporary files behind", async () => {
    await store.put("a/b", Uint8Array.from([1]), "text/plain");
    await store.put("a/b", Uint8Array.from([2]), "text/plain");
    await store.delete("a/b");
    await store.put("c", Uint8Array.from([3]), "text/plain");
    expect(await listTree(join(parent.path, "nested", "root"))).toEqual(["a", "c.blob", "c.type"]);
  });

  it("removes the temporary files of a write its process never finished, with stale objects under the prefix", async () => {
    const root = join(parent.path, "nested", "root");
    await store.put("uploads/done", Uint8Array.from([1]), "text/plain");
    // What a process killed mid-write leaves: the type sidecar and part of the bytes.
    await writeFile(join(root, "uploads", "killed.0b9c.tmp.type"), "video/mp4");
    await writeFile(join(root, "uploads", "killed.0b9c.tmp"), Uint8Array.from([1, 2]));
    expect(await store.removeStale("uploads", new Date(Date.now() + 60_000))).toBe(2);
    expect(await listTree(root)).toEqual(["uploads"]);
  });

  it("leaves no temporary files behind when a streamed put fails", async () => {
    const failing = Readable.from(
      (function* () {
        yield Buffer.alloc(1024);
        throw new Error("the client went away");
      })(),
    );
    await expect(store.putStream("a/b", failing, "image/png")).rejects.toThrow("the client went away");
    expect(await listTree(join(parent.path, "nested", "root"))).toEqual(["a"]);
  });

  it("keeps objects across instances on the same root", async () => {
    await store.put("kept", Uint8Array.from([4, 2]), "image/webp");
    const again = new FsBlobStore(join(parent.path, "nested", "root"));
    expect(await again.get("kept")).toEqual({ bytes: Uint8Array.from([4, 2]), contentType: "image/webp" });
  });
});
