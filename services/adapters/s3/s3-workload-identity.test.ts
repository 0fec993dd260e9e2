import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { infraEndpoint } from "../../testing/infra.js";
import { createS3Client, S3BlobStore } from "./s3-blob-store.js";

/**
 * Without static keys the store signs with the pod's AWS identity. Here the identity comes
 * from the container credentials endpoint (what ECS and similar agents serve; IRSA's web
 * identity token needs AWS STS, which cannot run here): a local server that hands out the
 * S3Proxy's keys, as a role's temporary credentials, to a caller with the right token.
 * S3Proxy refuses requests that carry a session token (it has no STS), so the round trip
 * runs with credentials that have none, and the session token is checked where it is
 * written into presigned links (no request to S3 needed).
 */
const TOKEN = `token-${randomBytes(8).toString("hex")}`;
const requests: IncomingHttpHeaders[] = [];
let sessionToken: string | undefined;
let server: Server;
const saved = { uri: process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, token: process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN };

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push(request.headers);
    if (request.headers.authorization !== TOKEN) {
      response.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ Code: "AccessDenied", Message: "bad token" }));
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        Code: "Success",
        AccessKeyID: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"),
        SecretAccessKey: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY"),
        ...(sessionToken === undefined ? {} : { Token: sessionToken }),
        Expiration: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/v2/credentials`;
  process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = TOKEN;
});

afterAll(async () => {
  if (saved.uri === undefined) delete process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  else process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = saved.uri;
  if (saved.token === undefined) delete process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  else process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = saved.token;
  await new Promise((resolve) => server.close(resolve));
});

const place = () => ({ endPoint: infraEndpoint("PARLEY_TEST_S3_ENDPOINT"), region: infraEndpoint("PARLEY_TEST_S3_REGION") });

describe("S3 access without static keys", () => {
  it("signs with the credentials of the pod's identity", async () => {
    const bucket = `parley-identity-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
    const store = await S3BlobStore.open({ ...place(), bucket });
    try {
      await store.put("assets/a1/original", Buffer.from("hello"), "text/plain");
      expect(Buffer.from((await store.get("assets/a1/original"))?.bytes ?? []).toString()).toBe("hello");
      const link = await fetch(await store.presignedGetUrl("assets/a1/original", 60));
      expect(await link.text()).toBe("hello");
      expect(requests.length).toBeGreaterThan(0);
      expect(requests.every((headers) => headers.authorization === TOKEN)).toBe(true);
      await store.delete("assets/a1/original");
    } finally {
      await store.close();
      const { client, agent } = createS3Client({ ...place(), accessKey: infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY"), secretKey: infraEndpoint("PARLEY_TEST_S3_SECRET_KEY") });
      await client.removeBucket(bucket).catch(() => undefined);
      agent.destroy();
    }
  });

  it("puts the identity's session token into presigned links", async () => {
    sessionToken = "session-token-of-the-role";
    const { client, agent } = createS3Client(place());
    try {
      const url = new URL(await client.presignedUrl("GET", "parley-identity", "assets/a1/original.blob", 60));
      expect(url.searchParams.get("X-Amz-Security-Token")).toBe("session-token-of-the-role");
      expect(url.searchParams.get("X-Amz-Credential")).toMatch(new RegExp(`^${infraEndpoint("PARLEY_TEST_S3_ACCESS_KEY")}/`));
    } finally {
      sessionToken = undefined;
      agent.destroy();
    }
  });

  it("fails to start, naming the credentials, when the identity is refused", async () => {
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = "not-the-token";
    try {
      await expect(S3BlobStore.open({ ...place(), bucket: "parley-identity-refused" })).rejects.toThrow(/credentials/i);
    } finally {
      process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = TOKEN;
    }
  });

  it("refuses one static key without the other", () => {
    expect(() => createS3Client({ ...place(), accessKey: "parley" })).toThrow(/both the access key and the secret key, or neither/);
  });
});
