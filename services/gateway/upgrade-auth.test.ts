import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { offeredSubprotocols, readUpgradeCredentials } from "./upgrade-auth.js";

function upgrade(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers } as unknown as IncomingMessage;
}

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

describe("readUpgradeCredentials", () => {
  it("reads the token from the Authorization header and the device from the query", () => {
    expect(readUpgradeCredentials(upgrade("/ws?device=phone-1", { authorization: `Bearer ${TOKEN}` }))).toEqual({
      ok: true,
      token: TOKEN,
      deviceId: "phone-1",
    });
  });

  it("gives a null device when the query names none", () => {
    expect(readUpgradeCredentials(upgrade("/ws", { authorization: `Bearer ${TOKEN}` }))).toEqual({ ok: true, token: TOKEN, deviceId: null });
  });

  it("accepts the scheme in any case and base64 padding", () => {
    expect(readUpgradeCredentials(upgrade("/ws", { authorization: "bearer abc+/=" }))).toMatchObject({ ok: true, token: "abc+/=" });
  });

  it("reads the token from a parley.bearer subprotocol offered with parley.v1", () => {
    const request = upgrade("/ws?device=browser", { "sec-websocket-protocol": `parley.v1, parley.bearer.${TOKEN}` });
    expect(readUpgradeCredentials(request)).toEqual({ ok: true, token: TOKEN, deviceId: "browser" });
  });

  it("prefers the Authorization header to a subprotocol token", () => {
    const request = upgrade("/ws", { authorization: "Bearer from-header", "sec-websocket-protocol": "parley.v1, parley.bearer.from-protocol" });
    expect(readUpgradeCredentials(request)).toMatchObject({ ok: true, token: "from-header" });
  });

  it.each([
    ["nothing", {}],
    ["only the protocol subprotocol", { "sec-websocket-protocol": "parley.v1" }],
    ["a Basic Authorization header", { authorization: "Basic YWxpY2U6c2VjcmV0" }],
    ["a Bearer header without a token", { authorization: "Bearer " }],
    ["a Bearer header with two tokens", { authorization: "Bearer a b" }],
    ["a bare token", { authorization: TOKEN }],
  ])("refuses %s with 401", (_, headers) => {
    expect(readUpgradeCredentials(upgrade("/ws", headers))).toMatchObject({ ok: false, status: 401 });
  });

  it("never takes a token from the URL", () => {
    expect(readUpgradeCredentials(upgrade(`/ws?token=${TOKEN}&access_token=${TOKEN}`))).toMatchObject({ ok: false, status: 401 });
  });

  it.each([
    ["unknown subprotocols", "chat, superchat"],
    ["another protocol version", "parley.v2"],
    ["a bearer token without parley.v1", `parley.bearer.${TOKEN}`],
  ])("refuses %s with 400", (_, offered) => {
    const result = readUpgradeCredentials(upgrade("/ws", { authorization: `Bearer ${TOKEN}`, "sec-websocket-protocol": offered }));
    expect(result).toMatchObject({ ok: false, status: 400 });
    expect(result.ok ? "" : result.reason).toContain("parley.v1");
  });
});

describe("offeredSubprotocols", () => {
  it("splits the header on commas and trims", () => {
    expect(offeredSubprotocols(upgrade("/", { "sec-websocket-protocol": " parley.v1 ,parley.bearer.x,, " }))).toEqual(["parley.v1", "parley.bearer.x"]);
  });

  it("is empty without the header", () => {
    expect(offeredSubprotocols(upgrade("/"))).toEqual([]);
  });
});
