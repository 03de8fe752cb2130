import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { adminQuery, apiConfig, cluster, regionApp, startRegionApp, type RegionApp } from '../../../test/support/regions';
import { freePort } from '../../../test/support/free-port';
import { hits, settled, throwawayRedis } from './cache-support';

const adminUrl = (region: string) => cluster().databases[region]!.adminUrl;

describe.each(['memory', 'redis'] as const)('global-row cache (%s)', (kind) => {
  let r: RegionApp;
  let redis: { url: string; stop(): void } | undefined;

  beforeAll(async () => {
    if (kind === 'memory') {
      r = await startRegionApp('eu-west-1');
      return;
    }
    redis = await throwawayRedis();
    const config = { ...apiConfig('eu-west-1'), redisUrl: redis.url };
    const db = createDb(config.databaseUrl, { max: 5 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    r = regionApp('eu-west-1', app, db);
  });
  afterAll(async () => {
    await r.close();
    redis?.stop();
  });

  it('serves a repeated read from the cache', async () => {
    const org = (await r.authed().inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Cached', homeRegion: 'eu-west-1' } })).json();
    await settled(adminUrl('eu-west-1'));
    const before = await hits(r, 'hit');
    for (let i = 0; i < 3; i++) expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}` })).json().name).toBe('Cached');
    expect(await hits(r, 'hit')).toBeGreaterThanOrEqual(before + 2);
  });

  it('never serves a value older than what the database has committed, whoever changed it', async () => {
    const org = (await r.authed().inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Before', homeRegion: 'eu-west-1' } })).json();
    expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}` })).json().name).toBe('Before');
    expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}` })).json().name).toBe('Before');
    // A change the API did not make (as the replication apply worker would make it).
    await adminQuery('eu-west-1', "UPDATE organization SET name = 'After' WHERE id = $1", [org.id]);
    await settled(adminUrl('eu-west-1'));
    expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}` })).json().name).toBe('After');
    // A tombstone makes the organization's regional routes disappear at once.
    await adminQuery('eu-west-1', "UPDATE organization SET tombstone = 'deleted' WHERE id = $1", [org.id]);
    await settled(adminUrl('eu-west-1'));
    expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}/dossiers` })).statusCode).toBe(404);
  });

  it('invalidates reference data by kind', async () => {
    const refKind = `cache_${kind}`;
    await r.authed().inject({ method: 'PUT', url: `/api/referential/${refKind}/a`, payload: { label: 'A' } });
    expect((await r.authed().inject({ method: 'GET', url: `/api/referential/${refKind}` })).json().items).toHaveLength(1);
    await adminQuery('eu-west-1', "INSERT INTO referential (id, kind, code, label) VALUES ($1, $2, 'b', 'B')", [`${refKind}:b`, refKind]);
    await settled(adminUrl('eu-west-1'));
    expect((await r.authed().inject({ method: 'GET', url: `/api/referential/${refKind}` })).json().items.map((e: { code: string }) => e.code)).toEqual(['a', 'b']);
  });
});

describe('global-row cache (redis) across a Redis restart', () => {
  let r: RegionApp;
  let redis: ChildProcess | undefined;
  let port: number;
  let dir: string;

  /** A Redis that keeps its data across a crash (append-only file, fsync on every write). */
  async function startRedis(): Promise<void> {
    redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--requirepass', 'test-secret'],
      { stdio: 'ignore' },
    );
    await new Promise<void>((resolve, reject) => {
      redis!.once('error', (err) => reject(new Error(`redis-server is required for this suite: ${err.message}`)));
      setTimeout(resolve, 300);
    });
  }

  beforeAll(async () => {
    port = await freePort();
    dir = await mkdtemp(join(tmpdir(), 'atlas-redis-'));
    await startRedis();
    const config = { ...apiConfig('eu-west-1'), redisUrl: `redis://:test-secret@127.0.0.1:${port}/0` };
    const db = createDb(config.databaseUrl, { max: 5 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    r = regionApp('eu-west-1', app, db);
  });
  afterAll(async () => {
    await r.close();
    redis?.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('never serves an entry whose invalidation Redis missed while it was down, and uses Redis again once it is back', async () => {
    const org = (await r.authed().inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Cached', homeRegion: 'eu-west-1' } })).json();
    await settled(adminUrl('eu-west-1'));
    expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}` })).json().name).toBe('Cached');
    expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}` })).json().name).toBe('Cached');
    // Redis crashes holding the entry; the row changes while it is down, so the invalidation
    // cannot reach it; Redis comes back from its append-only file with the old entry.
    const crashed = new Promise((resolve) => redis!.once('exit', resolve));
    redis!.kill('SIGKILL');
    await crashed;
    await adminQuery('eu-west-1', "UPDATE organization SET name = 'Changed' WHERE id = $1", [org.id]);
    await settled(adminUrl('eu-west-1'));
    expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}` })).json().name).toBe('Changed');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await startRedis();
    // Until the client has reconnected and the cache is trusted again, reads go to the
    // database; afterwards they hit Redis. Never the entry from before the change.
    const before = await hits(r, 'hit');
    const deadline = Date.now() + 15_000;
    while ((await hits(r, 'hit')) === before && Date.now() < deadline) {
      expect((await r.authed().inject({ method: 'GET', url: `/api/orgs/${org.id}` })).json().name).toBe('Changed');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await hits(r, 'hit')).toBeGreaterThan(before);
  });
});
