import { randomBytes } from "node:crypto";
import type { BucketItem, Client } from "minio";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeBlobStoreContract } from "../../ports/contract/blob-store.contract.js";
import { infraEndpoint } from "../../testing/infra.js";
import { createS3Client, objectNameOf, S3BlobStore, type S3BlobStoreOptions } from "./s3-blob-store.js";

/** The S3Proxy started by `hack/infra.sh up` (hack/servers/s3proxy.sh). */
function connection(): Omit<S3BlobStoreOptions, "bucket"> {
  return {
    endPoint: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"),
    accessKey: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
    secretKey: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
    region: infraEndpoint("PARLEY_TEST_S3_REGION"),
  };
}

/** A bucket name no other run uses (S3: 3-63 characters of [a-z0-9-]). */
function uniqueBucket(): string {
  return `parley-test-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

/** The names of every object in `bucket`. */
function objectNames(admin: Client, bucket: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const names: string[] = [];
    const listing = admin.listObjectsV2(bucket, "", true);
    listing.on("data", (item: BucketItem) => {
      if (item.name !== undefined) names.push(item.name);
    });
    listing.on("error", reject);
    listing.on("end", () => {
      resolve(names);
    });
  });
}

/** Deletes every object in `bucket`, then the bucket. */
async function removeBucket(admin: Client, bucket: string): Promise<void> {
  if (!(await admin.bucketExists(bucket))) return;
  const names = await objectNames(admin, bucket);
  if (names.length > 0) await admin.removeObjects(bucket, names);
  await admin.removeBucket(bucket);
}

const s3 = createS3Client(connection());
const admin = s3.client;
afterAll(() => {
  s3.agent.destroy();
});

describeBlobStoreContract("S3BlobStore on S3Proxy", async () => {
  const bucket = uniqueBucket();
  const store = await S3BlobStore.open({ ...connection(), bucket });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await removeBucket(admin, bucket);
    },
  };
});

describe("S3BlobStore on S3Proxy", () => {
  let bucket: string;
  let store: S3BlobStore;
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

  beforeEach(async () => {
    bucket = uniqueBucket();
    store = await S3BlobStore.open({ ...connection(), bucket });
  });

  afterEach(async () => {
    await store.close();
    await removeBucket(admin, bucket);
  });

  it("creates its bucket on start, and a second store on the same bucket sees the same objects", async () => {
    expect(await admin.bucketExists(bucket)).toBe(true);
    await store.put("assets/a1/original", png, "image/png");
    // Several processes starting at once: each ensures the bucket exists, none fails.
    const others = await Promise.all([1, 2, 3].map(() => S3BlobStore.open({ ...connection(), bucket })));
    try {
      for (const other of others) {
        expect(await other.get("assets/a1/original")).toEqual({ bytes: png, contentType: "image/png" });
      }
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
  });

  it("stores each blob as one object named after its key, with its content type", async () => {
    await store.put("sha256/abc", png, "image/png");
    expect(objectNameOf("sha256/abc")).toBe("sha256/abc.blob");
    const stat = await admin.statObject(bucket, "sha256/abc.blob");
    expect(stat.size).toBe(png.byteLength);
    expect(stat.metaData["content-type"]).toBe("image/png");
    expect(await objectNames(admin, bucket)).toEqual(["sha256/abc.blob"]);
  });

  it("aborts a multipart upload under the prefix that its process never finished, and keeps a newer one", async () => {
    const orphan = await admin.initiateNewMultipartUpload(bucket, objectNameOf("uploads/orphan"), { "Content-Type": "video/mp4" });
    const anHourAhead = new Date(Date.now() + 3600_000);
    await admin.uploadPart({ bucketName: bucket, objectName: objectNameOf("uploads/orphan"), uploadID: orphan, partNumber: 1, headers: { "Content-Length": 1 } }, Buffer.from([1]));
    await store.put("uploads/abandoned", png, "image/png");
    const elsewhere = await admin.initiateNewMultipartUpload(bucket, objectNameOf("sha256/other"), { "Content-Type": "video/mp4" });

    expect(await store.removeStale("uploads", new Date(Date.now() - 3600_000))).toBe(0);
    expect(await store.removeStale("uploads", anHourAhead)).toBe(2);
    const left: string[] = [];
    for await (const upload of admin.listIncompleteUploads(bucket, "", true) as AsyncIterable<{ key: string }>) left.push(upload.key);
    expect(left).toEqual(["sha256/other.blob"]);
    expect(await objectNames(admin, bucket)).toEqual([]);
    await admin.abortMultipartUpload(bucket, objectNameOf("sha256/other"), elsewhere);
  });

  it("refuses to start with wrong credentials", async () => {
    const bucketOfNobody = uniqueBucket();
    await expect(S3BlobStore.open({ ...connection(), secretKey: "wrong-secret", bucket: bucketOfNobody })).rejects.toThrow();
    expect(await admin.bucketExists(bucketOfNobody)).toBe(false);
  });

  describe("presigned GET", () => {
    it("lets a plain fetch without credentials download the object with its type", async () => {
      await store.put("assets/a1/original", png, "image/png");
      const url = await store.presignedGetUrl("assets/a1/original", 60);
      expect(url).not.toContain(connection().secretKey);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("image/png");
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(png);
    });

    it("is refused once it has expired", async () => {
      await store.put("assets/a1/original", png, "image/png");
      // Signed two minutes ago for one minute: expired a minute ago, no waiting needed.
      const past = await S3BlobStore.open({ ...connection(), bucket, clock: () => new Date(Date.now() - 120_000) });
      try {
        const response = await fetch(await past.presignedGetUrl("assets/a1/original", 60));
        expect(response.status).toBe(403);
        expect(await response.text()).toContain("<Code>AccessDenied</Code>");
      } finally {
        await past.close();
      }
    });

    it("opens only the key it was signed for", async () => {
      await store.put("assets/a1/original", png, "image/png");
      await store.put("assets/a2/original", Uint8Array.from([9]), "image/png");
      const url = await store.presignedGetUrl("assets/a1/original", 60);
      const tampered = url.replace("/assets/a1/original.blob", "/assets/a2/original.blob");
      expect(tampered).not.toBe(url);
      expect((await fetch(tampered)).status).toBe(403);
    });

    it("answers 404 for a key without an object", async () => {
      const response = await fetch(await store.presignedGetUrl("assets/none/original", 60));
      expect(response.status).toBe(404);
    });
  });

  describe("presigned PUT", () => {
    it("stores the body of a plain fetch PUT, with its Content-Type, under the key", async () => {
      const url = await store.presignedPutUrl("uploads/u1", 60);
      const response = await fetch(url, { method: "PUT", body: png, headers: { "content-type": "image/png" } });
      expect(response.status).toBe(200);
      expect(await store.get("uploads/u1")).toEqual({ bytes: png, contentType: "image/png" });
    });

    it("is refused once it has expired, and stores nothing", async () => {
      const past = await S3BlobStore.open({ ...connection(), bucket, clock: () => new Date(Date.now() - 120_000) });
      try {
        const response = await fetch(await past.presignedPutUrl("uploads/u1", 60), { method: "PUT", body: png });
        expect(response.status).toBe(403);
      } finally {
        await past.close();
      }
      expect(await store.has("uploads/u1")).toBe(false);
    });
  });

  describe("presigned POST", () => {
    async function post(key: string, ttlSeconds: number, file: Uint8Array, contentType: string, s = store): Promise<Response> {
      const { url, fields } = await s.presignedPost(key, ttlSeconds, { contentType: "image/png", maxBytes: 16 });
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      if (contentType !== "image/png") form.set("Content-Type", contentType);
      form.append("file", new Blob([new Uint8Array(file)]));
      return fetch(url, { method: "POST", body: form });
    }

    it("accepts an upload of the allowed type and size and stores it with that type", async () => {
      const response = await post("uploads/p1", 60, png, "image/png");
      expect(response.status).toBe(204);
      expect(await store.get("uploads/p1")).toEqual({ bytes: png, contentType: "image/png" });
    });

    it("refuses an upload larger than the limit, and stores nothing", async () => {
      const response = await post("uploads/p1", 60, new Uint8Array(17), "image/png");
      expect(response.status).toBe(400);
      expect(await response.text()).toContain("<Code>EntityTooLarge</Code>");
      expect(await store.has("uploads/p1")).toBe(false);
    });

    it("refuses an upload of another content type, and stores nothing", async () => {
      const response = await post("uploads/p1", 60, png, "text/html");
      expect(response.status).toBe(403);
      expect(await store.has("uploads/p1")).toBe(false);
    });

    it("refuses an expired policy, and stores nothing", async () => {
      const past = await S3BlobStore.open({ ...connection(), bucket, clock: () => new Date(Date.now() - 120_000) });
      try {
        const response = await post("uploads/p1", 60, png, "image/png", past);
        expect(response.status).toBe(403);
      } finally {
        await past.close();
      }
      expect(await store.has("uploads/p1")).toBe(false);
    });

    it("refuses a size range that cannot be met", async () => {
      await expect(store.presignedPost("uploads/p1", 60, { contentType: "image/png", minBytes: 5, maxBytes: 4 })).rejects.toThrow(RangeError);
    });
  });

  it("refuses presigned expiries outside 1 second to 7 days", async () => {
    for (const ttl of [0, -1, 1.5, 7 * 24 * 3600 + 1]) {
      await expect(store.presignedGetUrl("k", ttl)).rejects.toThrow(RangeError);
      await expect(store.presignedPutUrl("k", ttl)).rejects.toThrow(RangeError);
    }
  });
});
