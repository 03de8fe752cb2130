import { spawn, type ChildProcess } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@atlas/db';
import { buildApp, type ApiConfig } from '@atlas/api';
import { redisLimiter } from '../src/security/rate-limiter';
import { apiConfig, bearer, regionApp, type RegionApp } from '../../../test/support/regions';
import { freePort } from '../../../test/support/free-port';

/** Two API instances of one region, each with its own process-local state: two "tasks". */
async function twoApps(redisUrl: string | undefined): Promise<[RegionApp, RegionApp]> {
  const base = apiConfig('us-east-1');
  const config: ApiConfig = {
    ...base,
    ...(redisUrl ? { redisUrl } : {}),
    security: { ...base.security, rateLimitPerOrg: { capacity: 5, perSeconds: 60 }, rateLimitPerIp: { capacity: 4, perSeconds: 60 } },
  };
  const start = async () => {
    const db = createDb(config.databaseUrl, { max: 3 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    return regionApp('us-east-1', app, db);
  };
  return [await start(), await start()];
}

const get = (app: FastifyInstance, orgId: string, ip: string) =>
  app.inject({ method: 'GET', url: `/api/orgs/${orgId}/annonces`, headers: bearer(orgId, 'viewer'), remoteAddress: ip });


describe('rate limits shared through Redis (REDIS_URL set)', () => {
  let redis: ChildProcess;
  let apps: [RegionApp, RegionApp];
  let orgId: string;
  let ipSeq = 0;
  let redisUrl: string;
  /** A fresh client address per test, so that only the organization's budget is in play. */
  const ip = () => `198.51.100.${++ipSeq}`;

  beforeAll(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'rl-secret'], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      redis.once('error', (err) => reject(new Error(`redis-server is required for this suite: ${err.message}`)));
      setTimeout(resolve, 300);
    });
    redisUrl = `redis://:rl-secret@127.0.0.1:${port}/0`;
    apps = await twoApps(redisUrl);
    orgId = (await apps[0].app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Shared budget', homeRegion: 'us-east-1' } })).json().id;
  });
  afterAll(async () => {
    for (const a of apps ?? []) await a.close();
    redis?.kill('SIGTERM');
  });

  it("spends one organization budget across processes: the 6th request gets 429 whichever process serves it", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await get(apps[i % 2]!.app, orgId, ip())).statusCode);
    expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const limited = await get(apps[1].app, orgId, ip());
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json().error.code).toBe('ATLAS_ERR_RATE_LIMITED');
  });

  it('spends one address budget across processes, before any token work', async () => {
    const other = (await apps[1].app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Address budget', homeRegion: 'us-east-1' } })).json().id;
    const address = '203.0.113.50';
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await apps[i % 2]!.app.inject({ method: 'GET', url: `/api/orgs/${other}/annonces`, remoteAddress: address })).statusCode);
    // No token: 401 while the address has budget (4), then 429 from either process.
    expect(codes).toEqual([401, 401, 401, 401, 429, 429]);
  });

  it('falls back to per-process buckets when Redis stops answering, and counts it', async () => {
    // The limiter alone, on its own connection: the app's global-row cache has its own
    // (slower) behaviour when Redis is gone, which is not what this test is about.
    const connection = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 250 });
    connection.on('error', () => undefined);
    await new Promise((resolve) => connection.once('ready', resolve));
    const fallbacks: unknown[] = [];
    const limiter = redisLimiter(connection, 'us-east-1', 'org', { capacity: 5, perSeconds: 60 }, { fallback: (err) => fallbacks.push(err) });
    try {
      expect(await limiter.take('org-a')).toEqual({ allowed: true });
      expect(fallbacks).toHaveLength(0);
      redis.kill('SIGTERM');
      await new Promise<void>((resolve) => redis.once('exit', () => resolve()));
      const verdicts = [];
      for (let i = 0; i < 7; i++) verdicts.push((await limiter.take('org-a')).allowed);
      // This process alone now holds the budget of 5 (its own bucket starts full).
      expect(verdicts).toEqual([true, true, true, true, true, false, false]);
      expect(fallbacks).toHaveLength(7);
    } finally {
      connection.disconnect();
    }
  });
});

describe('rate limits without Redis (per process, as documented)', () => {
  let apps: [RegionApp, RegionApp];
  let orgId: string;

  beforeAll(async () => {
    apps = await twoApps(undefined);
    orgId = (await apps[0].app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Per-process budget', homeRegion: 'us-east-1' } })).json().id;
  });
  afterAll(async () => {
    for (const a of apps ?? []) await a.close();
  });

  it('gives each process its own budget: two processes admit twice the limit', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await get(apps[i % 2]!.app, orgId, `192.0.2.${i + 1}`)).statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(10);
    expect(codes.slice(10)).toEqual([429, 429]);
  });
});
