import { createSigner, createVerifier, TokenError } from "fast-jwt";
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

/**
 * The reason a refused token is given in its 401 (`invalid token (<reason>)`), per
 * fast-jwt error code. The names are those clients and docs have known since tokens were
 * verified with jose, so a client that matches on them keeps working.
 */
const REFUSAL_REASONS: Readonly<Record<string, string>> = {
  [TokenError.codes.invalidSignature]: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  [TokenError.codes.missingSignature]: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  [TokenError.codes.invalidAlgorithm]: "ERR_JOSE_ALG_NOT_ALLOWED",
  [TokenError.codes.missingRequiredClaim]: "ERR_JWT_CLAIM_VALIDATION_FAILED",
  [TokenError.codes.invalidClaimType]: "ERR_JWT_CLAIM_VALIDATION_FAILED",
  [TokenError.codes.invalidClaimValue]: "ERR_JWT_CLAIM_VALIDATION_FAILED",
  [TokenError.codes.inactive]: "ERR_JWT_CLAIM_VALIDATION_FAILED",
  [TokenError.codes.invalidCritHeader]: "ERR_JOSE_NOT_SUPPORTED",
  [TokenError.codes.invalidPayload]: "ERR_JWT_INVALID",
};
const MALFORMED_REASON = "ERR_JWS_INVALID";

interface VerifiedPayload {
  sub?: unknown;
  exp?: unknown;
  iat?: unknown;
}

/**
 * Signs and verifies the bearer tokens that authenticate WebSocket upgrades. With
 * fast-jwt, which signs and verifies with a synchronous node:crypto HMAC (about 20 µs a
 * token here); jose went through WebCrypto, an asynchronous job per token that cost
 * 120-170 µs of CPU on every connect.
 */
export class TokenAuthority {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verifyToken: (token: string) => VerifiedPayload;

  constructor(secret: string) {
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
      throw new Error(`the JWT secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    this.sign = createSigner({ key: secret, algorithm: ALGORITHM });
    // exp and nbf are checked against Date.now() at each call; crit headers are refused.
    this.verifyToken = createVerifier({ key: secret, algorithms: [ALGORITHM], allowedIss: ISSUER, requiredClaims: ["exp", "sub", "iss"] });
  }

  async issue(userId: string, ttlSeconds: number): Promise<string> {
    const subject = UserId.parse(userId);
    // One clock reading for both claims, so exp - iat is exactly the ttl even when a
    // second boundary passes while signing (the lifetime check compares it).
    const now = Math.floor(Date.now() / 1000);
    return Promise.resolve(this.sign({ sub: subject, iss: ISSUER, iat: now, exp: now + ttlSeconds }));
  }

  /** Async for its callers' sake (a key fetched from elsewhere one day); the work is synchronous. */
  async verify(token: string, options: VerifyOptions = {}): Promise<TokenClaims> {
    return Promise.resolve(this.verifyNow(token, options));
  }

  private verifyNow(token: string, options: VerifyOptions): TokenClaims {
    let payload: VerifiedPayload;
    try {
      payload = this.verifyToken(token);
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      if (error.code === TokenError.codes.expired) throw new InvalidTokenError("token expired");
      throw new InvalidTokenError(`invalid token (${REFUSAL_REASONS[error.code] ?? MALFORMED_REASON})`);
    }
    const userId = UserId.safeParse(payload.sub);
    if (!userId.success) throw new InvalidTokenError("token subject is not a valid user id");
    if (typeof payload.exp !== "number") throw new InvalidTokenError(`invalid token (${REFUSAL_REASONS[TokenError.codes.invalidClaimType] ?? MALFORMED_REASON})`);
    const claims: TokenClaims = {
      userId: userId.data,
      expiresAt: new Date(payload.exp * 1000),
      ...(typeof payload.iat === "number" ? { issuedAt: new Date(payload.iat * 1000) } : {}),
    };
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
