import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { inject } from 'vitest';
import { homeRegionOfOrg, parseTopology, requireRegion, type Topology } from '@atlas/core';
import { createDb, publicJwk, type AtlasDb, type Role } from '@atlas/db';
import { buildApp, type ApiConfig } from '@atlas/api';

export const REGION_IDS = ['eu-west-1', 'us-east-1', 'ap-southeast-1'] as const;
export type RegionId = (typeof REGION_IDS)[number];

export function cluster() {
  return inject('cluster');
}

export function apiConfig(regionId: string): ApiConfig {
  const info = cluster();
  const topology = parseTopology(info.topology);
  const region = requireRegion(topology, regionId);
  return {
    topology,
    region,
    databaseUrl: info.databases[regionId]!.appUrl,
    cacheStreamUrl: info.databases[regionId]!.cacheStreamUrl,
    home: info.home,
    host: '127.0.0.1',
    port: region.apiPort,
    documentKey: Buffer.from(info.secrets.documentKeys[regionId]!, 'base64'),
    blindIndexKey: info.secrets.blindIndexKey,
    logLevel: 'silent',
    bodyLimit: 256 * 1024,
    documentLimit: 10 * 1024 * 1024,
    probeIntervalMs: 0,
    latencyAlertMs: 200,
    peerUrls: {},
    replicationPollMs: 0,
    replicationLagAlertSeconds: 1,
    security: {
      authPublicKey: publicJwk(info.secrets.authSigningKey),
      authSigningKey: info.secrets.authSigningKey,
      devAuth: true,
      tokenTtlSeconds: 3600,
      auditSigningKey: info.secrets.auditSigningKey,
      auditCheckpointMs: 0,
      rateLimitPerIp: { capacity: 100_000, perSeconds: 60 },
      rateLimitPerOrg: { capacity: 100_000, perSeconds: 60 },
      corsOrigins: ['https://app.atlas.example'],
      retention: {},
      purgeIntervalMs: 0,
    },
  };
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz';

/** A stable user id per (organization, role) for test tokens. */
export function testUserId(orgId: string, role: string): string {
  const digest = createHash('sha256').update(`${orgId}:${role}`).digest();
  let id = '';
  for (let i = 0; i < 26; i++) id += BASE32[digest[i]! & 31];
  return `usr_${id}`;
}

/**
 * Signs a token with the cluster's auth key, synchronously (Ed25519 over the JWS signing
 * input), with any header and claims: valid ones for the helpers, broken ones for the token
 * suite.
 */
export function signToken(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'EdDSA', typ: 'JWT' }): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const key = createPrivateKey({ key: { ...cluster().secrets.authSigningKey }, format: 'jwk' });
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/** The claims of a valid token for a user of orgId with one role. */
export function tokenClaims(orgId: string, role: Role = 'admin', userId = testUserId(orgId, role), topology: Topology = parseTopology(cluster().topology)): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: 'atlas',
    aud: 'atlas-api',
    sub: userId,
    org: orgId,
    roles: [role],
    home: homeRegionOfOrg(topology, orgId)?.id ?? 'unknown',
    iat: now,
    exp: now + 600,
    jti: randomUUID(),
  };
}

/** A valid bearer token for a user of orgId with that role. */
export function token(orgId: string, role: Role = 'admin', userId?: string): string {
  return signToken(tokenClaims(orgId, role, userId));
}

export function bearer(orgId: string, role: Role = 'admin', userId?: string): Record<string, string> {
  return { authorization: `Bearer ${token(orgId, role, userId)}` };
}

export interface RegionApp {
  readonly region: RegionId;
  readonly app: FastifyInstance;
  readonly db: AtlasDb;
  close(): Promise<void>;
  /** A valid token of orgId with that role (default admin). */
  token(orgId: string, role?: Role, userId?: string): string;
  /** inject() with a token of orgId (default role admin). */
  as(orgId: string, role?: Role, userId?: string): { inject(options: InjectOptions): Promise<LightMyRequestResponse> };
  /**
   * inject() with the token the URL calls for: of the organization in the path; of the user in
   * /api/users/:userId (within fallbackOrg); else of fallbackOrg, else of an operator admin.
   */
  authed(fallbackOrg?: string, role?: Role): { inject(options: InjectOptions): Promise<LightMyRequestResponse> };
}

/** Any organization id serves for region-wide admin routes: tests configure no operator org. */
export const OPERATOR_ORG = 'org_euw1_0perat0r000000000000';
const ORG_IN_URL = /\/api\/orgs\/(org_[a-z0-9]{2,6}_[0-9a-z]{20})/;
const USER_IN_URL = /\/api\/users\/(usr_[0-9a-z]{26})/;

export function autoAuth(url: string, fallbackOrg: string | undefined, role: Role = 'admin'): Record<string, string> {
  const org = ORG_IN_URL.exec(url)?.[1];
  if (org) return bearer(org, role);
  const user = USER_IN_URL.exec(url)?.[1];
  if (user && fallbackOrg) return bearer(fallbackOrg, role, user);
  return bearer(fallbackOrg ?? OPERATOR_ORG, role);
}

/** The RegionApp helpers around an app built by hand (a suite with its own config). */
export function regionApp(region: RegionId, app: FastifyInstance, db: AtlasDb): RegionApp {
  return {
    region,
    app,
    db,
    close: async () => {
      await app.close();
      await db.destroy();
    },
    token: (orgId, role, userId) => token(orgId, role, userId),
    as: (orgId, role, userId) => withToken(app, orgId, role, userId),
    authed: (fallbackOrg, role) => ({
      inject: (options: InjectOptions) => app.inject({ ...options, headers: { ...autoAuth(String(options.url ?? ''), fallbackOrg, role), ...(options.headers ?? {}) } }),
    }),
  };
}

export function withToken(app: FastifyInstance, orgId: string, role: Role = 'admin', userId?: string) {
  return {
    inject: (options: InjectOptions) => app.inject({ ...options, headers: { ...bearer(orgId, role, userId), ...(options.headers ?? {}) } }),
  };
}

/** The real regional API of one region, on its real database, driven through inject(). */
export async function startRegionApp(region: RegionId): Promise<RegionApp> {
  const config = apiConfig(region);
  const db = createDb(config.databaseUrl, { max: 5 });
  const app = await buildApp(config, db, { logger: false });
  await app.ready();
  return regionApp(region, app, db);
}

/** A superuser query straight to a region's database: what is really stored there. */
export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(region: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster().databases[region]!.adminUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function appQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(region: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster().databases[region]!.appUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}
