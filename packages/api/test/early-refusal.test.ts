import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { orgIdOfUrl } from '../src/security/early-refusal';
import { TokenBuckets } from '../src/security/token-bucket';
import { apiConfig, bearer, regionApp, type RegionApp } from '../../../test/support/regions';

describe('the early refusal tests, on their own', () => {
  it('reads the organization a URL names, and nothing else', () => {
    expect(orgIdOfUrl('/api/orgs/org_us_abc/annonces?limit=10')).toBe('org_us_abc');
    expect(orgIdOfUrl('/api/orgs/org_us_abc?x=1')).toBe('org_us_abc');
    expect(orgIdOfUrl('/api/orgs/org_us_abc')).toBe('org_us_abc');
    expect(orgIdOfUrl('/api/orgs/')).toBeUndefined();
    expect(orgIdOfUrl('/api/orgs?limit=1')).toBeUndefined();
    expect(orgIdOfUrl('/api/users/usr_1/preferences')).toBeUndefined();
  });

  it('looks at a bucket without spending or refilling it', () => {
    const buckets = new TokenBuckets({ capacity: 2, perSeconds: 1 });
    expect(buckets.emptyForMs('k', 0)).toBe(0);
    expect(buckets.take('k', 0).allowed).toBe(true);
    expect(buckets.emptyForMs('k', 0)).toBe(0);
    expect(buckets.take('k', 0).allowed).toBe(true);
    // Empty: one token is back after 500 ms (2 per second).
    expect(buckets.emptyForMs('k', 0)).toBe(500);
    expect(buckets.emptyForMs('k', 200)).toBe(300);
    expect(buckets.take('k', 200).allowed).toBe(false);
    expect(buckets.emptyForMs('k', 500)).toBe(0);
    // Looking spent nothing: the token regained by then is still there to take.
    expect(buckets.take('k', 500).allowed).toBe(true);
    expect(buckets.take('k', 500).allowed).toBe(false);
  });
});

/** The same token with its organization claim changed: its signature no longer matches. */
function forged(validBearer: string, orgId: string): string {
  const [head, payload, signature] = validBearer.slice('Bearer '.length).split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  return `Bearer ${head}.${Buffer.from(JSON.stringify({ ...claims, org: orgId })).toString('base64url')}.${signature}`;
}

const APP_ORIGIN = 'https://app.example';

describe('rate limit: early refusal at the first hook', () => {
  let r: RegionApp;
  const newOrg = async (name: string) => (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name, homeRegion: 'us-east-1' } })).json().id as string;
  const annonces = (orgId: string, headers: Record<string, string> = {}) => r.app.inject({ method: 'GET', url: `/api/orgs/${orgId}/annonces`, headers });

  beforeAll(async () => {
    const base = apiConfig('us-east-1');
    // 3 requests an hour: nothing refills while a test runs.
    const config = {
      ...base,
      security: { ...base.security, corsOrigins: [APP_ORIGIN], rateLimitPerOrg: { capacity: 3, perSeconds: 3600 }, rateLimitPerIp: { capacity: 100_000, perSeconds: 60 } },
    };
    const db = createDb(config.databaseUrl, { max: 3 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    r = regionApp('us-east-1', app, db);
  });
  afterAll(() => r.close());

  it("spends none of an organization's budget for a URL, a bad token or a forged claim naming it", async () => {
    const victim = await newOrg('Victim');
    const stranger = await newOrg('Stranger');
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      codes.push((await annonces(victim, { authorization: 'Bearer e30.e30.bad' })).statusCode);
      codes.push((await annonces(victim)).statusCode);
      codes.push((await annonces(victim, { authorization: forged(bearer(stranger).authorization!, victim) })).statusCode);
      codes.push((await r.app.inject({ method: 'GET', url: '/api/no-such-route', headers: { authorization: forged(bearer(stranger).authorization!, victim) } })).statusCode);
    }
    expect(codes).toEqual(Array.from({ length: 4 }, () => [401, 401, 401, 404]).flat());
    // Another organization's valid token is refused by scope (it spends its own budget, not the victim's).
    expect((await annonces(victim, bearer(stranger, 'viewer'))).statusCode).toBe(403);
    // The victim still has its whole budget.
    const own: number[] = [];
    for (let i = 0; i < 4; i++) own.push((await annonces(victim, bearer(victim, 'viewer'))).statusCode);
    expect(own).toEqual([200, 200, 200, 429]);
  });

  it('refuses an over-budget organization before routing, token checks and body parsing', async () => {
    const flooder = await newOrg('Flooder');
    const bystander = await newOrg('Bystander');
    const token = bearer(flooder, 'admin');
    const spent: number[] = [];
    for (let i = 0; i < 4; i++) spent.push((await annonces(flooder, token)).statusCode);
    expect(spent).toEqual([200, 200, 200, 429]);

    // Answers that would be 401, 404 and 400 without a budget are 429 now: nothing after the first hook ran.
    expect((await annonces(flooder, { authorization: 'Bearer e30.e30.bad' })).statusCode).toBe(429);
    expect((await annonces(flooder)).statusCode).toBe(429);
    expect((await r.app.inject({ method: 'GET', url: `/api/orgs/${flooder}/no-such-route` })).statusCode).toBe(429);
    const badBody = await r.app.inject({ method: 'POST', url: `/api/orgs/${flooder}/dossiers`, headers: { ...token, 'content-type': 'application/json' }, payload: '{"title": ' });
    expect(badBody.statusCode).toBe(429);
    // A token authentication has already verified is refused on any URL (404 for anyone else),
    expect((await r.app.inject({ method: 'GET', url: '/api/no-such-route', headers: token })).statusCode).toBe(429);
    expect((await r.app.inject({ method: 'GET', url: '/api/no-such-route', headers: bearer(bystander, 'admin') })).statusCode).toBe(404);
    // but a token never verified here is not trusted for that, though validly signed.
    expect((await r.app.inject({ method: 'GET', url: '/api/no-such-route', headers: bearer(flooder, 'viewer') })).statusCode).toBe(404);
    // Probes are never throttled, and the other organization is served.
    expect((await r.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await annonces(bystander, bearer(bystander, 'viewer'))).statusCode).toBe(200);
  });

  it('answers the early 429 with the same headers and body as any API error', async () => {
    const org = await newOrg('Headers');
    const token = bearer(org, 'viewer');
    for (let i = 0; i < 3; i++) expect((await annonces(org, token)).statusCode).toBe(200);
    // The request that finds the bucket empty is refused by authentication (thrown error path)…
    const thrown = await annonces(org, token);
    // …the next ones at the first hook (precomputed reply).
    const early = await annonces(org, { ...token, 'x-request-id': 'early-1' });
    expect([thrown.statusCode, early.statusCode]).toEqual([429, 429]);
    expect(early.json()).toEqual(thrown.json());
    expect(early.json().error.code).toBe('ATLAS_ERR_RATE_LIMITED');
    const names = (res: typeof early) => Object.keys(res.headers).filter((h) => !['date', 'connection', 'keep-alive', 'x-request-id'].includes(h)).sort();
    expect(names(early)).toEqual(names(thrown));
    for (const name of names(thrown)) {
      if (name !== 'retry-after') expect([name, early.headers[name]]).toEqual([name, thrown.headers[name]]);
    }
    expect(Number(early.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(early.headers['x-request-id']).toBe('early-1');
    expect(early.headers['atlas-served-by']).toBe('us-east-1');
  });

  it("answers an over-budget organization's browser preflight, then a 429 the browser may read", async () => {
    const org = await newOrg('Browser');
    const token = bearer(org, 'viewer');
    for (let i = 0; i < 4; i++) await annonces(org, token);
    const preflight = await r.app.inject({ method: 'OPTIONS', url: `/api/orgs/${org}/annonces`, headers: { origin: APP_ORIGIN, 'access-control-request-method': 'GET' } });
    expect(preflight.statusCode).toBe(204);
    const early = await annonces(org, { ...token, origin: APP_ORIGIN });
    expect(early.statusCode).toBe(429);
    expect(early.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    expect(String(early.headers['access-control-expose-headers'])).toContain('retry-after');
    // No CORS grant for an origin that is not allowed, on the early path either.
    const stranger = await annonces(org, { ...token, origin: 'https://evil.example' });
    expect(stranger.statusCode).toBe(429);
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
  });
});
