import { once } from "node:events";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { CloseCode } from "../protocol/errors.js";
import type { ServerFrame } from "../protocol/frames.js";
import { RawConnection, UpgradeRefusedError } from "./support/raw-connection.js";
import { platformPerTest, type TestPlatform } from "./support/test-platform.js";

const start = platformPerTest();

/** An upgrade with a bare connection, which (unlike the SDK) shows the status and body of a refusal. */
async function upgrade(p: TestPlatform, userId: string, deviceId?: string): Promise<RawConnection> {
  return RawConnection.open({ url: p.websocketUrl, token: await p.token(userId), ...(deviceId === undefined ? {} : { deviceId }) });
}

async function refusal(connecting: Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const error = await connecting.then(
    () => new Error("expected the upgrade to be refused"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(UpgradeRefusedError);
  const refused = error as UpgradeRefusedError;
  return { status: refused.status, body: JSON.parse(refused.body) as Record<string, unknown> };
}

describe("per-user connection cap", () => {
  it("refuses the connection over the cap with 429 naming the limit, and the others keep working", async () => {
    const p = await start({ maxConnectionsPerUser: 3 });
    const held = [await p.open("alice", { deviceId: "phone" }), await p.open("alice", { deviceId: "phone" }), await p.open("alice", { deviceId: "laptop" })];
    const bob = await p.open("bob");

    expect(await refusal(upgrade(p, "alice", "phone"))).toEqual({
      status: 429,
      body: { error: "too many connections for this user: at most 3; close one first", limit: "connections_per_user", max: 3 },
    });

    for (const client of held) expect(client.state).toBe("open");
    const sent = await held[2]?.send("bob", "still connected");
    expect(sent?.seq).toBe(1);
    expect((await bob.send("alice", "bob is unaffected")).seq).toBe(2);
    expect((await p.open("carol")).userId).toBe("carol");
  });

  it("frees the slot when one of the user's connections closes", async () => {
    const p = await start({ maxConnectionsPerUser: 1 });
    const first = await p.open("alice");
    await refusal(upgrade(p, "alice"));
    const gone = once(p.gateway, "disconnect");
    await first.close();
    await gone;
    expect((await p.open("alice")).userId).toBe("alice");
  });

  it("counts upgrades that race each other", async () => {
    const p = await start({ maxConnectionsPerUser: 2 });
    const attempts = await Promise.allSettled(Array.from({ length: 6 }, () => upgrade(p, "alice")));
    expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(2);
    for (const attempt of attempts) {
      if (attempt.status === "rejected") expect(attempt.reason).toMatchObject({ status: 429 });
    }
  });
});

describe("per-user device cap", () => {
  it("refuses a further device with 429, while a connected device may open another connection", async () => {
    const p = await start({ maxDevicesPerUser: 2 });
    await p.open("alice", { deviceId: "phone" });
    await p.open("alice", { deviceId: "laptop" });

    const { status, body } = await refusal(upgrade(p, "alice", "tablet"));
    expect(status).toBe(429);
    expect(body).toMatchObject({ limit: "devices_per_user", max: 2 });
    expect(body.error).toContain("at most 2");

    expect((await p.open("alice", { deviceId: "laptop" })).hello?.deviceId).toBe("laptop");
    expect((await p.open("bob", { deviceId: "tablet" })).hello?.deviceId).toBe("tablet");
  });
});

describe("token lifetime", () => {
  it("refuses a token that lives longer than the maximum with 401, saying so", async () => {
    const p = await start({ maxTokenLifetimeSeconds: 3600 });
    const { status, body } = await refusal(RawConnection.open({ url: p.websocketUrl, token: await p.token("alice", 3601) }));
    expect(status).toBe(401);
    expect(body.error).toBe("token lifetime exceeds the maximum of 3600 seconds: get a shorter-lived token");
    expect((await p.open("alice", { token: await p.token("alice", 3600) })).userId).toBe("alice");
  });

  it("refuses a token that expires in the year 9999 under the default maximum", async () => {
    const p = await start();
    const key = new TextEncoder().encode(loadOrCreateDevSecret(p.dataDir));
    const forever = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setIssuer("parley").setIssuedAt().setExpirationTime(Date.UTC(9999, 0, 1) / 1000).sign(key);
    expect((await refusal(RawConnection.open({ url: p.websocketUrl, token: forever }))).status).toBe(401);
  });

  it("refuses the same token at the asset API, for uploads and links alike", async () => {
    const p = await start({ maxTokenLifetimeSeconds: 3600 });
    const longLived = await p.token("alice", 3601);
    const upload = await fetch(`${p.url}/v1/assets`, { method: "POST", headers: { Authorization: `Bearer ${longLived}` }, body: new Uint8Array([1, 2, 3]) });
    expect(upload.status).toBe(401);
    expect(((await upload.json()) as { error: string }).error).toContain("token lifetime exceeds the maximum of 3600 seconds");
    const link = await fetch(`${p.url}/v1/assets/a01JZ0000000000000000000009/link`, { method: "POST", headers: { Authorization: `Bearer ${longLived}` } });
    expect(link.status).toBe(401);
  });

  it("tells hello when the token expires", async () => {
    const p = await start();
    const token = await p.token("alice", 600);
    const client = await p.open("alice", { token });
    const exp = (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { exp: number }).exp;
    expect(client.hello?.tokenExpiresAt).toBe(new Date(exp * 1000).toISOString());
    await client.close();
  });
});

describe("token expiry on an open connection", () => {
  it("sends reauthenticate, closes with 4001, and stores nothing sent after exp", async () => {
    const p = await start();
    // Expires within 1-2 s: exp is whole seconds.
    const socket = new WebSocket(p.websocketUrl, ["parley.v1"], { headers: { Authorization: `Bearer ${await p.token("alice", 2)}` } });
    const frames: ServerFrame[] = [];
    const reauthenticate = new Promise<ServerFrame>((resolve) => {
      socket.on("message", (data) => {
        const frame = JSON.parse((data as Buffer).toString()) as ServerFrame;
        frames.push(frame);
        if (frame.type === "reauthenticate") {
          // Sent after exp, before the close frame reaches this client.
          socket.send(JSON.stringify({ type: "send", id: "late", to: "bob", clientMessageId: "late-1", body: { text: "after expiry" } }));
          resolve(frame);
        }
      });
    });
    const closed = once(socket, "close") as Promise<[number, Buffer]>;

    const frame = await reauthenticate;
    const [code, reason] = await closed;
    expect(frames.map((f) => f.type)).toEqual(["hello", "reauthenticate"]);
    expect(frame).toMatchObject({ type: "reauthenticate", reason: "token_expired" });
    const hello = frames[0] as Extract<ServerFrame, { type: "hello" }>;
    expect((frame as { expiredAt: string }).expiredAt).toBe(hello.tokenExpiresAt);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(hello.tokenExpiresAt));
    expect(code).toBe(CloseCode.tokenExpired);
    expect(reason.toString()).toBe("token expired: reconnect with a new token");

    // Had the late send been stored, this would be the conversation's second message.
    const again = await p.open("alice");
    expect((await again.send("bob", "with a new token")).seq).toBe(1);
  });

  it("surfaces the expiry to SDK users as a reauthenticate event before the close", async () => {
    const p = await start();
    // A plain token (no function to fetch a fresh one): the client stops at the expiry.
    const client = await p.open("alice", { token: await p.token("alice", 2) });
    const order: string[] = [];
    client.on("reauthenticate", () => order.push("reauthenticate"));
    const [{ code, willReconnect }] = await client.next("close");
    order.push("close");
    expect(code).toBe(CloseCode.tokenExpired);
    expect(willReconnect).toBe(false);
    expect(order).toEqual(["reauthenticate", "close"]);
  });
});
