import { SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InvalidTokenError, TokenAuthority, tokenLifetimeSeconds } from "./tokens.js";

const SECRET = "a-test-secret-that-is-long-enough-0123456789";
const key = new TextEncoder().encode(SECRET);

/** A token signed with the authority's secret but built by hand. */
function handMade(claims: Record<string, unknown>, alg = "HS256", signingKey = key): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).setIssuedAt();
  return jwt.sign(signingKey);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

async function refusal(tokens: TokenAuthority, token: string): Promise<InvalidTokenError> {
  const error: unknown = await tokens.verify(token).then(
    (claims) => new Error(`expected the token to be refused, got ${JSON.stringify(claims)}`),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(InvalidTokenError);
  return error as InvalidTokenError;
}

const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600;

describe("TokenAuthority", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("verifies the tokens it issues", async () => {
    const tokens = new TokenAuthority(SECRET);
    const before = Date.now();
    const claims = await tokens.verify(await tokens.issue("alice@example.org", 600));
    expect(claims.userId).toBe("alice@example.org");
    expect(claims.expiresAt.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(claims.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it("accepts a token issued by another instance with the same secret", async () => {
    const token = await new TokenAuthority(SECRET).issue("bob", 60);
    expect((await new TokenAuthority(SECRET).verify(token)).userId).toBe("bob");
  });

  it("refuses an expired token with 'token expired'", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.UTC(2030, 0, 1));
    const tokens = new TokenAuthority(SECRET);
    const token = await tokens.issue("alice", 60);
    vi.setSystemTime(Date.UTC(2030, 0, 1, 0, 0, 59));
    expect((await tokens.verify(token)).userId).toBe("alice");
    vi.setSystemTime(Date.UTC(2030, 0, 1, 0, 1, 1));
    expect((await refusal(tokens, token)).message).toBe("token expired");
  });

  it("refuses a token signed with another secret", async () => {
    const token = await new TokenAuthority("another-secret-that-is-long-enough-98765").issue("alice", 60);
    // The reason docs/protocol.md shows for a wrong secret.
    expect((await refusal(new TokenAuthority(SECRET), token)).message).toBe("invalid token (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)");
  });

  it("refuses a token that is not valid yet (nbf in the future)", async () => {
    const token = await handMade({ sub: "alice", iss: "parley", exp: inAnHour(), nbf: inAnHour() - 60 });
    expect((await refusal(new TokenAuthority(SECRET), token)).message).toMatch(/^invalid token/);
  });

  it("refuses a token whose payload was altered", async () => {
    const tokens = new TokenAuthority(SECRET);
    const [header, , signature] = (await tokens.issue("alice", 60)).split(".");
    const forged = [header, base64url({ sub: "admin", iss: "parley", exp: inAnHour() }), signature].join(".");
    await refusal(tokens, forged);
  });

  it("refuses an unsigned token (alg none)", async () => {
    const token = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: "alice", iss: "parley", exp: inAnHour() })}.`;
    await refusal(new TokenAuthority(SECRET), token);
  });

  it("refuses a token signed with HS512, even with the right secret", async () => {
    const token = await handMade({ sub: "alice", iss: "parley", exp: inAnHour() }, "HS512");
    await refusal(new TokenAuthority(SECRET), token);
  });

  it("accepts a hand-made HS256 token with the expected claims", async () => {
    const token = await handMade({ sub: "alice", iss: "parley", exp: inAnHour() });
    expect((await new TokenAuthority(SECRET).verify(token)).userId).toBe("alice");
  });

  it.each([
    ["a subject that is not a user id", { sub: "alice smith", iss: "parley" }],
    ["a subject longer than 64 characters", { sub: "a".repeat(65), iss: "parley" }],
    ["no subject", { iss: "parley" }],
    ["another issuer", { sub: "alice", iss: "someone-else" }],
    ["no issuer", { sub: "alice" }],
  ])("refuses a token with %s", async (_, claims) => {
    await refusal(new TokenAuthority(SECRET), await handMade({ ...claims, exp: inAnHour() }));
  });

  it("says when the subject is not a valid user id", async () => {
    const token = await handMade({ sub: "alice:bob", iss: "parley", exp: inAnHour() });
    expect((await refusal(new TokenAuthority(SECRET), token)).message).toBe("token subject is not a valid user id");
  });

  it("refuses a token without an expiry", async () => {
    await refusal(new TokenAuthority(SECRET), await handMade({ sub: "alice", iss: "parley" }));
  });

  it.each([["garbage", "not-a-token"], ["empty", ""], ["two parts", "a.b"]])("refuses a %s token", async (_, token) => {
    await refusal(new TokenAuthority(SECRET), token);
  });

  it("refuses to issue a token for an invalid user id", async () => {
    await expect(new TokenAuthority(SECRET).issue("alice smith", 60)).rejects.toThrow();
  });

  it("issues tokens whose exp - iat is exactly the ttl", async () => {
    const tokens = new TokenAuthority(SECRET);
    const claims = await tokens.verify(await tokens.issue("alice", 86_400));
    expect(claims.expiresAt.getTime() - (claims.issuedAt?.getTime() ?? 0)).toBe(86_400_000);
  });

  describe("with a maximum lifetime", () => {
    const nowSeconds = (): number => Math.floor(Date.now() / 1000);

    it("accepts a token that lives exactly the maximum", async () => {
      const tokens = new TokenAuthority(SECRET);
      const claims = await tokens.verify(await tokens.issue("alice", 3600), { maxLifetimeSeconds: 3600 });
      expect(claims.userId).toBe("alice");
    });

    it("refuses a token whose exp - iat passes the maximum, naming it", async () => {
      const tokens = new TokenAuthority(SECRET);
      const error: unknown = await tokens.verify(await tokens.issue("alice", 3601), { maxLifetimeSeconds: 3600 }).catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(InvalidTokenError);
      expect((error as Error).message).toBe("token lifetime exceeds the maximum of 3600 seconds: get a shorter-lived token");
    });

    it("refuses a token that expires in the year 9999", async () => {
      const token = await handMade({ sub: "alice", iss: "parley", exp: Date.UTC(9999, 0, 1) / 1000 });
      await expect(new TokenAuthority(SECRET).verify(token, { maxLifetimeSeconds: 86_400 })).rejects.toThrow(/lifetime exceeds/);
    });

    it("measures from now when the token has no iat", async () => {
      const noIat = (exp: number): Promise<string> => new SignJWT({ sub: "alice", iss: "parley", exp }).setProtectedHeader({ alg: "HS256" }).sign(key);
      const tokens = new TokenAuthority(SECRET);
      expect((await tokens.verify(await noIat(nowSeconds() + 60), { maxLifetimeSeconds: 120 })).issuedAt).toBeUndefined();
      await expect(tokens.verify(await noIat(nowSeconds() + 600), { maxLifetimeSeconds: 120 })).rejects.toThrow(/lifetime exceeds/);
    });

    it("is not fooled by an iat in the future", async () => {
      const later = nowSeconds() + 30 * 86_400;
      const token = await new SignJWT({ sub: "alice", iss: "parley", iat: later, exp: later + 60 }).setProtectedHeader({ alg: "HS256" }).sign(key);
      await expect(new TokenAuthority(SECRET).verify(token, { maxLifetimeSeconds: 3600 })).rejects.toThrow(/lifetime exceeds/);
    });
  });

  it("refuses a secret shorter than 32 bytes", () => {
    expect(() => new TokenAuthority("s".repeat(31))).toThrow("at least 32 bytes");
    expect(() => new TokenAuthority("")).toThrow("at least 32 bytes");
    expect(() => new TokenAuthority("s".repeat(32))).not.toThrow();
    // 16 two-byte characters are 32 bytes.
    expect(() => new TokenAuthority("é".repeat(16))).not.toThrow();
  });
});

describe("tokenLifetimeSeconds", () => {
  const at = (seconds: number): Date => new Date(seconds * 1000);

  it("is exp - iat for a token issued in the past", () => {
    expect(tokenLifetimeSeconds({ issuedAt: at(1_000), expiresAt: at(4_600) }, 2_000_000)).toBe(3_600);
  });

  it("believes an iat up to a minute ahead of our clock (an issuer whose clock runs fast)", () => {
    expect(tokenLifetimeSeconds({ issuedAt: at(2_030), expiresAt: at(2_030 + 86_400) }, 2_000_000)).toBe(86_400);
  });

  it("is exp - now without iat, or with an iat further ahead than clocks drift", () => {
    expect(tokenLifetimeSeconds({ expiresAt: at(4_600) }, 2_000_000)).toBe(2_600);
    expect(tokenLifetimeSeconds({ issuedAt: at(4_000), expiresAt: at(4_600) }, 2_000_000)).toBe(2_600);
  });
});
