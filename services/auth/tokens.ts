import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { UserId } from "../protocol/ids.js";

/** HS256 only: a token signed with any other algorithm (or `none`) is refused. */
const ALGORITHM = "HS256";
const ISSUER = "parley";
const MIN_SECRET_BYTES = 32;

export interface TokenClaims {
  userId: UserId;
  expiresAt: Date;
  /** From `iat`; absent when the issuer left it out. */
  issuedAt?: Date;
}

export interface VerifyOptions {
  /**
   * Refuse tokens that live longer than this: a token leaked from a client is only
   * dangerous until its `exp`, so an issuer must not be able to mint one for years.
   */
  maxLifetimeSeconds?: number;
}

export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidTokenError";
  }
}

/** Signs and verifies the bearer tokens that authenticate WebSocket upgrades. */
export class TokenAuthority {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
    if (this.key.byteLength < MIN_SECRET_BYTES) {
      throw new Error(`the JWT secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
  }

  async issue(userId: string, ttlSeconds: number): Promise<string> {
    const subject = UserId.parse(userId);
    // One clock reading for both claims, so exp - iat is exactly the ttl even when a
    // second boundary passes while signing (the lifetime check compares it).
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(subject)
      .setIssuer(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.key);
  }

  async verify(token: string, options: VerifyOptions = {}): Promise<TokenClaims> {
    let claims: TokenClaims;
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: [ALGORITHM], issuer: ISSUER, requiredClaims: ["exp", "sub"] });
      const userId = UserId.safeParse(payload.sub);
      if (!userId.success || payload.exp === undefined) throw new InvalidTokenError("token subject is not a valid user id");
      claims = {
        userId: userId.data,
        expiresAt: new Date(payload.exp * 1000),
        ...(payload.iat === undefined ? {} : { issuedAt: new Date(payload.iat * 1000) }),
      };
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new InvalidTokenError("token expired");
      if (error instanceof joseErrors.JOSEError) throw new InvalidTokenError(`invalid token (${error.code})`);
      throw error;
    }
    const max = options.maxLifetimeSeconds;
    if (max !== undefined && tokenLifetimeSeconds(claims, Date.now()) > max) {
      throw new InvalidTokenError(`token lifetime exceeds the maximum of ${max} seconds: get a shorter-lived token`);
    }
    return claims;
  }
}

/** How far ahead of ours an issuer's clock may run before its `iat` is no longer believed. */
const MAX_CLOCK_SKEW_MS = 60_000;

/**
 * How long a token is (or was declared to be) usable, in seconds: `exp - iat`, or
 * `exp - now` without an `iat` or with one further in the future than clocks drift apart
 * (which would otherwise let a long-lived token pass as a short one). An issuer whose
 * clock runs a little ahead still gets its full-length tokens accepted.
 */
export function tokenLifetimeSeconds(claims: Pick<TokenClaims, "expiresAt" | "issuedAt">, nowMs: number): number {
  const issued = claims.issuedAt?.getTime();
  const from = issued !== undefined && issued <= nowMs + MAX_CLOCK_SKEW_MS ? issued : nowMs;
  return (claims.expiresAt.getTime() - from) / 1000;
}
