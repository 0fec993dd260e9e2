import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { UserId } from "../protocol/ids.js";

/** HS256 only: a token signed with any other algorithm (or `none`) is refused. */
const ALGORITHM = "HS256";
const ISSUER = "parley";
const MIN_SECRET_BYTES = 32;

export interface TokenClaims {
  userId: UserId;
  expiresAt: Date;
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
    return new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(subject)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.key);
  }

  async verify(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: [ALGORITHM], issuer: ISSUER, requiredClaims: ["exp", "sub"] });
      const userId = UserId.safeParse(payload.sub);
      if (!userId.success || payload.exp === undefined) throw new InvalidTokenError("token subject is not a valid user id");
      return { userId: userId.data, expiresAt: new Date(payload.exp * 1000) };
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new InvalidTokenError("token expired");
      if (error instanceof joseErrors.JOSEError) throw new InvalidTokenError(`invalid token (${error.code})`);
      throw error;
    }
  }
}
