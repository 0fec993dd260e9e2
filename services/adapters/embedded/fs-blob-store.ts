import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { assertBlobKey, assertRangeWithin, type BlobReadStream, type BlobStore, type ByteRange, type StoredBlob } from "../../ports/blob-store.js";

/**
 * The embedded blob store: one `<key>.blob` file per object under a root directory, with
 * its content type in a `<key>.type` sidecar. Keys have no dots, so `a` and `a/b` never
 * clash (`a.blob` is a file, `a` a directory). Keys are checked against BLOB_KEY_PATTERN
 * and the resolved path must stay under the root, so no key can reach outside it.
 */
export class FsBlobStore implements BlobStore {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.write(key, contentType, (temporary) => writeFile(temporary, bytes));
  }

  async putStream(key: string, source: Readable, contentType: string): Promise<void> {
    // pipeline: the file is written as fast as the disk takes it, and a failing source
    // (or disk) destroys both ends.
    await this.write(key, contentType, (temporary) => pipeline(source, createWriteStream(temporary, { flags: "wx" })));
  }

  async get(key: string): Promise<StoredBlob | null> {
    const path = this.pathOf(key);
    try {
      const [bytes, contentType] = await Promise.all([readFile(`${path}.blob`), readFile(`${path}.type`, "utf8")]);
      return { bytes: new Uint8Array(bytes), contentType };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async openRead(key: string, range?: ByteRange): Promise<BlobReadStream | null> {
    const path = this.pathOf(key);
    let handle: FileHandle;
    try {
      // The open file stays the object read even if a put replaces it meanwhile (rename).
      handle = await open(`${path}.blob`, "r");
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    try {
      const [{ size }, contentType] = await Promise.all([handle.stat(), readFile(`${path}.type`, "utf8")]);
      if (range) assertRangeWithin(range, size, key);
      const stream = handle.createReadStream({ start: range?.start ?? 0, ...(range ? { end: range.end } : {}), autoClose: true });
      return { stream, size, contentType };
    } catch (error) {
      await handle.close();
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    await mkdir(dirname(target), { recursive: true });
    // Type first, as in put: once the `.blob` arrives, get() finds both files.
    await rename(`${source}.type`, `${target}.type`);
    await rename(`${source}.blob`, `${target}.blob`);
  }

  async has(key: string): Promise<boolean> {
    try {
      return (await stat(`${this.pathOf(key)}.blob`)).isFile();
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await rm(`${path}.blob`, { force: true });
    await rm(`${path}.type`, { force: true });
  }

  /** Whole objects (`.blob`, with its `.type`) and temporary files of writes that never finished. */
  async removeStale(prefix: string, before: Date): Promise<number> {
    const directory = this.pathOf(prefix);
    let entries;
    try {
      entries = await readdir(directory, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
    // One removal per object or per unfinished write (its `.tmp` and `.tmp.type` count once).
    const removed = new Set<string>();
    for (const entry of entries) {
      const path = join(entry.parentPath, entry.name);
      const stale = async (): Promise<boolean> => {
        try {
          return (await stat(path)).mtime < before;
        } catch (error) {
          if (isNotFound(error)) return false;
          throw error;
        }
      };
      if (!entry.isFile()) continue;
      if (entry.name.endsWith(".blob") && (await stale())) {
        const object = path.slice(0, -".blob".length);
        await rm(path, { force: true });
        await rm(`${object}.type`, { force: true });
        removed.add(object);
      } else if ((entry.name.endsWith(".tmp") || entry.name.endsWith(".tmp.type")) && (await stale())) {
        await rm(path, { force: true });
        removed.add(path.replace(/\.type$/, ""));
      }
    }
    return removed.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Writes the content to a temporary file, then renames, so a reader never sees half an object. */
  private async write(key: string, contentType: string, content: (temporary: string) => Promise<void>): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(`${temporary}.type`, contentType);
      await content(temporary);
    } catch (error) {
      await Promise.all([rm(temporary, { force: true }), rm(`${temporary}.type`, { force: true })]);
      throw error;
    }
    // Type first: once `.blob` exists (has() is true), get() finds both files.
    await rename(`${temporary}.type`, `${path}.type`);
    await rename(temporary, `${path}.blob`);
  }

  private pathOf(key: string): string {
    assertBlobKey(key);
    const path = resolve(join(this.root, key));
    if (!path.startsWith(this.root + sep)) throw new Error(`blob key escapes the store root: ${key}`);
    return path;
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT";
}
