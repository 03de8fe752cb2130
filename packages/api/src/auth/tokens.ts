import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { SignJWT, errors as joseErrors, importJWK, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import { AtlasError, homeRegionOfOrg, isOrgId, type Topology } from '@atlas/core';
import type { Ed25519Jwk, Role } from '@atlas/db';

/** Pinned: one algorithm, one issuer, one audience. Anything else is refused. */
export const TOKEN_ALGORITHM = 'EdDSA';
export const TOKEN_ISSUER = 'atlas';
export const TOKEN_AUDIENCE = 'atlas-api';
const CLOCK_TOLERANCE_SECONDS = 5;

export const ROLES = ['admin', 'agent', 'viewer', 'dpo'] as const satisfies readonly Role[];

/** Who is calling, from a verified token. */
export interface Principal {
  readonly userId: string;
  readonly orgId: string;
  readonly roles: readonly Role[];
  /** The organization's home region, as the token states it (and the org id confirms). */
  readonly homeRegion: string;
  readonly tokenId: string;
}

interface AtlasClaims extends JWTPayload {
  org?: unknown;
  roles?: unknown;
  home?: unknown;
}

const USER_ID = /^usr_[0-9a-z]{26}$/;

export class TokenVerifier {
  /**
   * Tokens already verified, by their exact text, until they expire: the same bytes verify the
   * same way, so a client (or a flood) reusing its token costs a lookup, not an EdDSA check.
   * Expiry is checked on every hit; whether the user still exists is checked per request elsewhere.
   */
  private readonly verified = new LRUCache<string, { principal: Principal; expiresMs: number }>({ max: 10_000 });

  private constructor(
    private readonly key: CryptoKey,
    private readonly topology: Topology,
  ) {}

  static async create(publicKey: Ed25519Jwk, topology: Topology): Promise<TokenVerifier> {
    const key = await importJWK({ kty: publicKey.kty, crv: publicKey.crv, x: publicKey.x }, TOKEN_ALGORITHM);
    return new TokenVerifier(key as CryptoKey, topology);
  }

  /** The principal of a valid token; ATLAS_ERR_UNAUTHENTICATED for anything else. */
  async verify(token: string, nowMs: number = Date.now()): Promise<Principal> {
    const known = this.verified.get(token);
    if (known && nowMs < known.expiresMs) return known.principal;
    if (known) this.verified.delete(token);
    return this.verifyOnce(token);
  }

  /**
   * The organization of a token this verifier has already verified and that has not expired;
   * undefined for any other token. Checks no signature: a lookup, for the rate limiter's
   * earliest hook (the organization is as trustworthy as a full verification's).
   */
  verifiedOrgOf(token: string, nowMs: number): string | undefined {
    const known = this.verified.peek(token);
    return known !== undefined && nowMs < known.expiresMs ? known.principal.orgId : undefined;
  }

  private async verifyOnce(token: string): Promise<Principal> {
    let payload: AtlasClaims;
    try {
      ({ payload } = await jwtVerify<AtlasClaims>(token, this.key, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp', 'iat', 'org', 'roles', 'home'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      throw unauthenticated(err instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is not valid');
    }
    const { sub, org, roles, home, jti } = payload;
    if (typeof sub !== 'string' || !USER_ID.test(sub)) throw unauthenticated('the token names no valid user');
    if (typeof org !== 'string' || !isOrgId(org)) throw unauthenticated('the token names no valid organization');
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => (ROLES as readonly unknown[]).includes(r))) {
      throw unauthenticated('the token carries unknown roles');
    }
    if (typeof home !== 'string' || homeRegionOfOrg(this.topology, org)?.id !== home) throw unauthenticated("the token's home region does not match its organization");
    const principal = { userId: sub, orgId: org, roles: roles as Role[], homeRegion: home, tokenId: typeof jti === 'string' ? jti : '' };
    // exp is required and numeric once jwtVerify has passed; the same tolerance as jwtVerify's.
    this.verified.set(token, { principal, expiresMs: (Number(payload.exp) + CLOCK_TOLERANCE_SECONDS) * 1000 });
    return principal;
  }
}

export function unauthenticated(message: string): AtlasError {
  return new AtlasError('ATLAS_ERR_UNAUTHENTICATED', message, { 'www-authenticate': 'Bearer realm="atlas"' });
}

/** Signs a token for a principal (dev sign-in, `atlas login`, tests, benchmarks). */
export async function issueToken(
  signingKey: Ed25519Jwk,
  claims: { userId: string; orgId: string; roles: readonly Role[]; homeRegion: string },
  ttlSeconds: number,
  now: Date = new Date(),
): Promise<{ token: string; expiresAt: string }> {
  const key = await importJWK({ ...signingKey }, TOKEN_ALGORITHM);
  const iat = Math.floor(now.getTime() / 1000);
  const token = await new SignJWT({ org: claims.orgId, roles: [...claims.roles], home: claims.homeRegion })
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(claims.userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(randomUUID())
    .sign(key);
  return { token, expiresAt: new Date((iat + ttlSeconds) * 1000).toISOString() };
}
