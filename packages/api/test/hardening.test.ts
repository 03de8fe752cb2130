import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { apiConfig, bearer, regionApp, type RegionApp } from '../../../test/support/regions';

describe('hardening: rate limits, no internals to clients', () => {
  let r: RegionApp;
  let a: string;
  let b: string;

  beforeAll(async () => {
    const base = apiConfig('us-east-1');
    const config = { ...base, security: { ...base.security, rateLimitPerOrg: { capacity: 5, perSeconds: 60 }, rateLimitPerIp: { capacity: 1000, perSeconds: 60 } } };
    const db = createDb(config.databaseUrl, { max: 5 });
    const app = await buildApp(config, db, { logger: false });
    app.get('/api/boom', { config: { public: true } }, async () => {
      throw new Error('connection to 10.0.3.7 failed at /srv/atlas/secret.ts:42');
    });
    await app.ready();
    r = regionApp('us-east-1', app, db);
    a = (await app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Flooder', homeRegion: 'us-east-1' } })).json().id;
    b = (await app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Bystander', homeRegion: 'us-east-1' } })).json().id;
  });
  afterAll(() => r.close());

  it("answers 429 with Retry-After to a flooding organization and keeps serving another", async () => {
    const codes: number[] = [];
    let limited: { headers: Record<string, unknown>; body: string } | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await r.app.inject({ method: 'GET', url: `/api/orgs/${a}/annonces`, headers: bearer(a, 'viewer') });
      codes.push(res.statusCode);
      if (res.statusCode === 429) limited = res;
    }
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(codes.slice(5)).toEqual([429, 429, 429]);
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited!.body).error.code).toBe('ATLAS_ERR_RATE_LIMITED');
    expect((await r.app.inject({ method: 'GET', url: `/api/orgs/${b}/annonces`, headers: bearer(b, 'viewer') })).statusCode).toBe(200);
  });

  it('limits per client address before any token work', async () => {
    const base = apiConfig('us-east-1');
    const config = { ...base, security: { ...base.security, rateLimitPerIp: { capacity: 3, perSeconds: 60 } } };
    const db = createDb(config.databaseUrl, { max: 2 });
    const app = await buildApp(config, db, { logger: false });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await app.inject({ method: 'GET', url: `/api/orgs/${a}/annonces`, remoteAddress: '203.0.113.9' })).statusCode);
      expect(codes).toEqual([401, 401, 401, 429, 429]);
      expect((await app.inject({ method: 'GET', url: `/api/orgs/${a}/annonces`, remoteAddress: '203.0.113.10' })).statusCode).toBe(401);
      // Health probes are never throttled.
      expect((await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '203.0.113.9' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await db.destroy();
    }
  });

  it("returns only 'internal error' for an unexpected failure, never its message or stack", async () => {
    const res = await r.app.inject({ method: 'GET', url: '/api/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'ATLAS_ERR_INTERNAL', message: 'internal error' } });
    expect(res.body).not.toMatch(/10\.0\.3\.7|secret\.ts|at /);
  });
});
