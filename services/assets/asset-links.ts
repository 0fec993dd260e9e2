import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { AssetId, UserId } from "../protocol/ids.js";

/** HKDF "info": binds the derived key to this one use of the JWT secret. */
const KEY_INFO = "parley asset download links v1";
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const EXPIRES_PATTERN = /^[0-9]{1,12}$/;

/** The parts of a download link: which asset, for whom, until when (Unix seconds). */
export interface LinkClaims {
  assetId: AssetId;
  userId: UserId;
  expires: number;
}

export interface SignedLink extends LinkClaims {
  /** base64url HMAC-SHA256 over the claims. */
  signature: string;
}

export type LinkCheck =
  | { ok: true; claims: LinkClaims }
  | { ok: false; reason: "malformed" | "bad_signature" | "expired" };

/**
 * Signs and checks asset download links: HMAC-SHA256 over asset id, user id and expiry,
 * keyed by HKDF-SHA256 of the JWT secret. A link names its user, so the download
 * re-checks that user's access; it grants nothing a token for that user would not.
 */
export class AssetLinkSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (secret.length === 0) throw new Error("the asset link secret must not be empty");
    this.key = Buffer.from(hkdfSync("sha256", secret, "parley-assets", KEY_INFO, 32));
  }

  sign(claims: LinkClaims): SignedLink {
    return { ...claims, signature: this.mac(claims).toString("base64url") };
  }

  /** `/v1/assets/<id>?user=…&expires=…&signature=…`, relative to the server's base URL. */
  path(link: SignedLink): string {
    const query = new URLSearchParams({ user: link.userId, expires: String(link.expires), signature: link.signature });
    return `/v1/assets/${link.assetId}?${query.toString()}`;
  }

  /**
   * Checks a link's parameters as they came off the URL. The signature is compared in
   * constant time, and before the expiry, so an expired link reveals nothing unless it
   * was genuine. `nowSeconds` is Unix seconds; a link is valid up to and including
   * `expires`.
   */
  verify(raw: { assetId: string; user: string | null; expires: string | null; signature: string | null }, nowSeconds: number): LinkCheck {
    const assetId = AssetId.safeParse(raw.assetId);
    const userId = UserId.safeParse(raw.user);
    if (
      !assetId.success ||
      !userId.success ||
      raw.expires === null ||
      !EXPIRES_PATTERN.test(raw.expires) ||
      raw.signature === null ||
      !SIGNATURE_PATTERN.test(raw.signature)
    ) {
      return { ok: false, reason: "malformed" };
    }
    const claims: LinkClaims = { assetId: assetId.data, userId: userId.data, expires: Number(raw.expires) };
    // Compared as canonical base64url text: a base64 variant that decodes to the same bytes is refused too.
    const given = Buffer.from(raw.signature, "ascii");
    const expected = Buffer.from(this.mac(claims).toString("base64url"), "ascii");
    if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected)) return { ok: false, reason: "bad_signature" };
    if (nowSeconds > claims.expires) return { ok: false, reason: "expired" };
    return { ok: true, claims };
  }

  private mac(claims: LinkClaims): Buffer {
    // Newline-separated: neither ids nor the decimal expiry can contain one.
    return createHmac("sha256", this.key).update(`v1\n${claims.assetId}\n${claims.userId}\n${String(claims.expires)}`).digest();
  }
}
