import { randomBytes } from "node:crypto";
import { utimes } from "node:fs/promises";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { FsBlobStore } from "../adapters/embedded/fs-blob-store.js";
import { createS3Client, S3BlobStore } from "../adapters/s3/s3-blob-store.js";
import type { BlobStore } from "../ports/blob-store.js";
import { infraEndpoint } from "../testing/infra.js";
import { makeTempDir } from "../testing/temp-dir.js";
import { UPLOAD_STALE_AFTER_MS, UploadSweeper } from "./upload-sweeper.js";

const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const logger = pino({ level: "silent" });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A sweeper whose clock runs `aheadMs` ahead: what it removes is what would be that old by then. */
function sweeperOn(blobs: BlobStore, aheadMs: number): UploadSweeper {
  return new UploadSweeper({ blobs, logger, clock: () => new Date(Date.now() + aheadMs) });
}

describe("the upload sweeper", () => {
  it("removes an upload a dead process left an hour ago on the embedded store, and keeps a recent one and stored assets", async () => {
    const dir = await makeTempDir("parley-sweep-");
    const blobs = new FsBlobStore(join(dir.path, "blobs"));
    cleanups.push(() => dir.remove());
    await blobs.put("uploads/a01old", png, "image/png");
    await blobs.put("uploads/a02recent", png, "image/png");
    await blobs.put("sha256/stored", png, "image/png");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const file of ["a01old.blob", "a01old.type"]) await utimes(join(dir.path, "blobs", "uploads", file), twoHoursAgo, twoHoursAgo);

    await sweeperOn(blobs, 0).sweep();
    expect(await blobs.has("uploads/a01old")).toBe(false);
    expect(await blobs.has("uploads/a02recent")).toBe(true);
    expect(await blobs.has("sha256/stored")).toBe(true);
  });

  it("removes leftovers of uploads on S3Proxy once they are an hour old, and keeps stored assets", async () => {
    const bucket = `parley-sweep-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
    const connection = {
      endPoint: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"),
      accessKey: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
      secretKey: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
      region: infraEndpoint("PARLEY_TEST_S3_REGION"),
    };
    const blobs = await S3BlobStore.open({ ...connection, bucket });
    cleanups.push(async () => {
      await blobs.removeStale("sha256", new Date(Date.now() + 3600_000));
      await blobs.close();
      const { client, agent } = createS3Client(connection);
      await client.removeBucket(bucket);
      agent.destroy();
    });
    await blobs.put("uploads/a01left", png, "image/png");
    await blobs.put("sha256/stored", png, "image/png");
    await sweeperOn(blobs, 0).sweep();
    expect(await blobs.has("uploads/a01left")).toBe(true);
    await sweeperOn(blobs, UPLOAD_STALE_AFTER_MS + 60_000).sweep();
    expect(await blobs.has("uploads/a01left")).toBe(false);
    expect(await blobs.has("sha256/stored")).toBe(true);
  });
});
