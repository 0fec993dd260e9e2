import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { dirname, join, resolve, sep } from "node:path";
import { assertBlobKey, type BlobStore, type StoredBlob } from "../../ports/blob-store.js";

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
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    // Write then rename, so a reader never sees half an object.
    const temporary = `${path}.${randomUUID()}.tmp`;
    await writeFile(`${temporary}.type`, contentType);
    await writeFile(temporary, bytes);
    // Type first: once `.blob` exists (has() is true), get() finds both files.
    await rename(`${temporary}.type`, `${path}.type`);
    await rename(temporary, `${path}.blob`);
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

  close(): Promise<void> {
    return Promise.resolve();
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
