import type { Ed25519Jwk, RetentionPolicy } from '@atlas/db';
import { HOLD_MAX_SECONDS } from './connection-hold';

/** A token bucket's shape: `capacity` requests at once, refilled over `perSeconds`. */
export interface RateLimit {
  readonly capacity: number;
  readonly perSeconds: number;
}

/** Authentication, audit signing, hardening and retention: validated once, then frozen. */
export interface SecurityConfig {
  /** Verifies API tokens (Ed25519 public JWK). */
  readonly authPublicKey: Ed25519Jwk;
  /** Signs dev tokens; present only where tokens are issued locally. */
  readonly authSigningKey?: Ed25519Jwk;
  /** POST /api/auth/dev-token is served only when true (ATLAS_DEV_AUTH=1). */
  readonly devAuth: boolean;
  /** Lifetime of issued tokens, seconds. */
  readonly tokenTtlSeconds: number;
  /** Signs the audit chain's checkpoints (Ed25519 private JWK). */
  readonly auditSigningKey: Ed25519Jwk;
  /** How often the head of the audit chain is signed; 0 turns the timer off. */
  readonly auditCheckpointMs: number;
  /** Read-audit events waiting to be committed beyond which reads are refused (503); default 5000. */
  readonly auditQueueMax?: number;
  /** Read-audit events committed by one transaction at most; default 200. */
  readonly auditBatchMax?: number;
  /** Admins of this organization (only) may call region-wide admin routes; unset: any admin. */
  readonly operatorOrgId?: string;
  readonly rateLimitPerIp: RateLimit;
  readonly rateLimitPerOrg: RateLimit;
  /**
   * Longest a refused client's connection is left unread after a 429 (its Retry-After, at most
   * this; security/connection-hold.ts); 0 turns holding off. Default HOLD_MAX_SECONDS (60).
   */
  readonly rateLimitHoldMaxSeconds?: number;
  /** Origins a browser may call the API from (CORS); empty: none. */
  readonly corsOrigins: readonly string[];
  readonly retention: RetentionPolicy;
  /** How often the retention purge runs; 0 turns the timer off. */
  readonly purgeIntervalMs: number;
}

export const AUDIT_QUEUE_MAX = 5000;
export const AUDIT_BATCH_MAX = 200;

export class SecurityConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

function jwk(variable: string, text: string | undefined, needPrivate: boolean): Ed25519Jwk | undefined {
  if (text === undefined || text === '') return undefined;
  let parsed: Partial<Ed25519Jwk>;
  try {
    parsed = JSON.parse(text) as Partial<Ed25519Jwk>;
  } catch {
    throw new SecurityConfigError(variable, 'must be an Ed25519 JWK as JSON');
  }
  const b64url = /^[A-Za-z0-9_-]{43}$/;
  if (parsed.kty !== 'OKP' || parsed.crv !== 'Ed25519' || !b64url.test(parsed.x ?? '')) {
    throw new SecurityConfigError(variable, 'must be an Ed25519 JWK ({"kty":"OKP","crv":"Ed25519","x":…})');
  }
  if (needPrivate && !b64url.test(parsed.d ?? '')) throw new SecurityConfigError(variable, 'must be a private key (with "d")');
  return needPrivate ? { kty: 'OKP', crv: 'Ed25519', x: parsed.x!, d: parsed.d! } : { kty: 'OKP', crv: 'Ed25519', x: parsed.x! };
}

function rate(variable: string, text: string | undefined, fallback: RateLimit): RateLimit {
  if (!text) return fallback;
  const match = /^(\d{1,7})\/(\d{1,5})$/.exec(text);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) throw new SecurityConfigError(variable, 'must be <requests>/<seconds>, e.g. 600/60');
  return { capacity: Number(match[1]), perSeconds: Number(match[2]) };
}

function int(variable: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^\d{1,9}$/.test(text)) throw new SecurityConfigError(variable, 'must be a whole number');
  return Number(text);
}

function positive(variable: string, text: string | undefined, fallback: number): number {
  const n = int(variable, text, fallback);
  if (n < 1) throw new SecurityConfigError(variable, 'must be at least 1');
  return n;
}

function holdSeconds(text: string | undefined): number {
  const n = int('ATLAS_RATE_LIMIT_HOLD_MAX_S', text, HOLD_MAX_SECONDS);
  if (n > 3600) throw new SecurityConfigError('ATLAS_RATE_LIMIT_HOLD_MAX_S', 'must be at most 3600 (seconds; 0 turns holding off)');
  return n;
}

function retention(text: string | undefined): RetentionPolicy {
  if (!text) return {};
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SecurityConfigError('ATLAS_RETENTION', 'must be JSON, e.g. {"activityDays":1095}');
  }
  const known = ['dossierClosedDays', 'activityDays', 'documentDays', 'privacyExportDays'];
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.includes(key)) throw new SecurityConfigError('ATLAS_RETENTION', `unknown entity '${key}'; known: ${known.join(', ')}`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new SecurityConfigError('ATLAS_RETENTION', `${key} must be a whole number of days ≥ 1`);
  }
  return parsed as RetentionPolicy;
}

/**
 * Reads the security settings from the environment. ATLAS_AUTH_PUBLIC_KEY and
 * ATLAS_AUDIT_SIGNING_KEY are required; ATLAS_AUTH_SIGNING_KEY is required with ATLAS_DEV_AUTH=1.
 */
export function securityConfigFromEnv(env: NodeJS.ProcessEnv): SecurityConfig {
  const authSigningKey = jwk('ATLAS_AUTH_SIGNING_KEY', env.ATLAS_AUTH_SIGNING_KEY, true);
  const authPublicKey = jwk('ATLAS_AUTH_PUBLIC_KEY', env.ATLAS_AUTH_PUBLIC_KEY, false);
  if (!authPublicKey) throw new SecurityConfigError('ATLAS_AUTH_PUBLIC_KEY', 'is required (the Ed25519 public JWK that verifies tokens)');
  if (authSigningKey && authSigningKey.x !== authPublicKey.x) throw new SecurityConfigError('ATLAS_AUTH_SIGNING_KEY', 'is not the private half of ATLAS_AUTH_PUBLIC_KEY');
  const devAuth = env.ATLAS_DEV_AUTH === '1';
  if (env.ATLAS_DEV_AUTH !== undefined && !['0', '1'].includes(env.ATLAS_DEV_AUTH)) throw new SecurityConfigError('ATLAS_DEV_AUTH', 'must be 0 or 1');
  if (devAuth && !authSigningKey) throw new SecurityConfigError('ATLAS_AUTH_SIGNING_KEY', 'is required when ATLAS_DEV_AUTH=1');
  const auditSigningKey = jwk('ATLAS_AUDIT_SIGNING_KEY', env.ATLAS_AUDIT_SIGNING_KEY, true);
  if (!auditSigningKey) throw new SecurityConfigError('ATLAS_AUDIT_SIGNING_KEY', 'is required (the Ed25519 private JWK that signs audit checkpoints)');
  const operator = env.ATLAS_OPERATOR_ORG;
  if (operator !== undefined && !/^org_[a-z0-9]{2,6}_[0-9a-z]{20}$/.test(operator)) throw new SecurityConfigError('ATLAS_OPERATOR_ORG', 'must be an organization id');
  const corsOrigins = (env.ATLAS_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter((o) => o !== '');
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) throw new SecurityConfigError('ATLAS_CORS_ORIGINS', `'${origin}' is not an origin (scheme://host[:port])`);
  }
  return Object.freeze({
    authPublicKey,
    ...(authSigningKey ? { authSigningKey } : {}),
    devAuth,
    tokenTtlSeconds: int('ATLAS_TOKEN_TTL_SECONDS', env.ATLAS_TOKEN_TTL_SECONDS, 3600),
    auditSigningKey,
    auditCheckpointMs: int('ATLAS_AUDIT_CHECKPOINT_MS', env.ATLAS_AUDIT_CHECKPOINT_MS, 60_000),
    auditQueueMax: positive('ATLAS_AUDIT_QUEUE_MAX', env.ATLAS_AUDIT_QUEUE_MAX, AUDIT_QUEUE_MAX),
    auditBatchMax: positive('ATLAS_AUDIT_BATCH_MAX', env.ATLAS_AUDIT_BATCH_MAX, AUDIT_BATCH_MAX),
    ...(operator ? { operatorOrgId: operator } : {}),
    rateLimitPerIp: rate('ATLAS_RATE_LIMIT_IP', env.ATLAS_RATE_LIMIT_IP, { capacity: 1200, perSeconds: 60 }),
    rateLimitPerOrg: rate('ATLAS_RATE_LIMIT_ORG', env.ATLAS_RATE_LIMIT_ORG, { capacity: 3000, perSeconds: 60 }),
    rateLimitHoldMaxSeconds: holdSeconds(env.ATLAS_RATE_LIMIT_HOLD_MAX_S),
    corsOrigins,
    retention: retention(env.ATLAS_RETENTION),
    purgeIntervalMs: int('ATLAS_PURGE_INTERVAL_MS', env.ATLAS_PURGE_INTERVAL_MS, 6 * 3_600_000),
  });
}
