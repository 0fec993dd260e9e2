import { createHmac, timingSafeEqual } from "node:crypto";

/** The header that carries a notification's signature. */
export const SIGNATURE_HEADER = "Parley-Signature";
/**
 * How far a signature's timestamp may be from the receiver's clock, in seconds. A
 * receiver that refuses older requests cannot be fed a recorded request later (replay);
 * the window allows for clock skew and the sender's retries of one request.
 */
export const REPLAY_WINDOW_SECONDS = 300;

/**
 * The `Parley-Signature` value for a body sent at `unixSeconds`: `t=<unix seconds>,v1=<hex>`,
 * where the hex is HMAC-SHA256, keyed by the shared secret, of `<t>.<body>`. Signing the
 * timestamp with the body keeps a receiver from being fooled by an old body with a fresh
 * `t`.
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${String(unixSeconds)},v1=${hmacHex(secret, `${String(unixSeconds)}.${body}`)}`;
}

/**
 * Whether `header` is a valid signature of `body` within the replay window of
 * `nowSeconds`: what a receiver checks (docs/operations.md has the same check for
 * receivers to copy). Several `v1` entries are accepted, for secret rotation.
 */
export function verifySignature(secret: string, body: string, header: string | undefined, nowSeconds: number, windowSeconds = REPLAY_WINDOW_SECONDS): boolean {
  if (header === undefined) return false;
  const parts = header.split(",").map((part) => part.trim().split("="));
  const t = parts.find(([key]) => key === "t")?.[1];
  if (t === undefined || !/^\d+$/.test(t) || Math.abs(nowSeconds - Number(t)) > windowSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, `${t}.${body}`), "hex");
  return parts.some(([key, value]) => {
    if (key !== "v1" || value === undefined || !/^[0-9a-f]{64}$/.test(value)) return false;
    return timingSafeEqual(Buffer.from(value, "hex"), expected);
  });
}

function hmacHex(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data).digest("hex");
}
