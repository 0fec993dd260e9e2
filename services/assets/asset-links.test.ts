import { describe, expect, it } from "vitest";
import { AssetLinkSigner, type SignedLink } from "./asset-links.js";

const SECRET = "0123456789abcdef0123456789abcdef";
const ASSET = "a01JZ0000000000000000000001";
const NOW = 1_900_000_000;

function params(link: SignedLink): { assetId: string; user: string; expires: string; signature: string } {
  return { assetId: link.assetId, user: link.userId, expires: String(link.expires), signature: link.signature };
}

describe("AssetLinkSigner", () => {
  const signer = new AssetLinkSigner(SECRET);
  const link = signer.sign({ assetId: ASSET, userId: "bob", expires: NOW + 300 });

  it("accepts its own link until and including the expiry second", () => {
    expect(signer.verify(params(link), NOW)).toEqual({ ok: true, claims: { assetId: ASSET, userId: "bob", expires: NOW + 300 } });
    expect(signer.verify(params(link), NOW + 300).ok).toBe(true);
  });

  it("refuses a genuine link once it has expired", () => {
    expect(signer.verify(params(link), NOW + 301)).toEqual({ ok: false, reason: "expired" });
  });

  it("refuses a link whose user, asset or expiry was changed", () => {
    expect(signer.verify({ ...params(link), user: "carol" }, NOW)).toEqual({ ok: false, reason: "bad_signature" });
    expect(signer.verify({ ...params(link), assetId: "a01JZ0000000000000000000002" }, NOW)).toEqual({ ok: false, reason: "bad_signature" });
    expect(signer.verify({ ...params(link), expires: String(NOW + 3_000_000) }, NOW)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("checks the signature before the expiry: a forged expired link is a bad signature", () => {
    expect(signer.verify({ ...params(link), user: "carol" }, NOW + 10_000)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("refuses a changed signature, including another encoding of the same bytes", () => {
    const signature = link.signature;
    const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
    expect(signer.verify({ ...params(link), signature: flipped }, NOW)).toEqual({ ok: false, reason: "bad_signature" });
    // The last of 43 base64url characters carries 4 padding bits; a variant with them set decodes to the same MAC.
    const last = signature.at(-1) ?? "";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const variant = signature.slice(0, -1) + (alphabet[alphabet.indexOf(last) + 1] ?? "");
    expect(Buffer.from(variant, "base64url")).toEqual(Buffer.from(signature, "base64url"));
    expect(signer.verify({ ...params(link), signature: variant }, NOW)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("refuses links signed with another secret", () => {
    const other = new AssetLinkSigner("another secret that is long enough!!");
    expect(other.verify(params(link), NOW)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("calls missing or malformed parameters malformed", () => {
    expect(signer.verify({ ...params(link), signature: null }, NOW)).toEqual({ ok: false, reason: "malformed" });
    expect(signer.verify({ ...params(link), user: null }, NOW)).toEqual({ ok: false, reason: "malformed" });
    expect(signer.verify({ ...params(link), expires: "-5" }, NOW)).toEqual({ ok: false, reason: "malformed" });
    expect(signer.verify({ ...params(link), expires: "1e9" }, NOW)).toEqual({ ok: false, reason: "malformed" });
    expect(signer.verify({ ...params(link), signature: link.signature.slice(1) }, NOW)).toEqual({ ok: false, reason: "malformed" });
    expect(signer.verify({ ...params(link), assetId: "../../etc/passwd" }, NOW)).toEqual({ ok: false, reason: "malformed" });
  });

  it("builds a path that names the asset, the user, the expiry and the signature", () => {
    const url = new URL(signer.path(link), "http://parley.test");
    expect(url.pathname).toBe(`/v1/assets/${ASSET}`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ user: "bob", expires: String(NOW + 300), signature: link.signature });
  });
});
