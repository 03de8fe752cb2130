import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDb, setupMesh, type RegionDatabase } from '@atlas/db';
import { buildApp, type ApiConfig } from '@atlas/api';
import { cluster, regionApp, type RegionApp, type RegionId } from '../../../test/support/regions';
import { freshApiConfig } from '../../../test/support/fresh-apps';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';
import { hits, query, settled, throwawayRedis } from './cache-support';

/** The API of `database`'s region on a fresh cluster, with the in-process cache or Redis. */
async function appOn(fresh: FreshRegions, database: RegionDatabase, redisUrl?: string): Promise<RegionApp> {
  const config: ApiConfig = { ...freshApiConfig(fresh, database.region.id), ...(redisUrl ? { redisUrl } : {}) };
  const db = createDb(config.databaseUrl, { max: 3 });
  const app = await buildApp(config, db, { logger: false });
  await app.ready();
  return regionApp(database.region.id as RegionId, app, db);
}

async function until<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const orgName = async (r: RegionApp, id: string): Promise<string> => (await r.authed().inject({ method: 'GET', url: `/api/orgs/${id}` })).json().name;

describe('cache invalidation by the decoding stream, across regions', () => {
  let fresh: FreshRegions;
  let eu: RegionDatabase;
  let us: RegionDatabase;
  let redis: { url: string; stop(): void };
  const apps: Record<'memory' | 'redis', RegionApp> = {} as never;

  beforeAll(async () => {
    fresh = await startFreshRegions(2, { prefix: 'atlas-cache-stream-' });
    [eu, us] = fresh.databases as [RegionDatabase, RegionDatabase];
    const mesh = await setupMesh(fresh.nodes);
    if (!mesh.ok) throw new Error(`mesh: ${JSON.stringify(mesh.steps.filter((s) => s.status === 'failed'))}`);
    redis = await throwawayRedis();
    apps.memory = await appOn(fresh, eu);
    apps.redis = await appOn(fresh, eu, redis.url);
  });
  afterAll(async () => {
    await Promise.allSettled(Object.values(apps).map((a) => a.close()));
    redis?.stop();
    await fresh?.stop();
  });

  it("invalidates this region's cached value when replication applies a change made in another region (in-process and Redis)", async () => {
    const org = (await apps.memory.authed().inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Made in Ireland', homeRegion: 'eu-west-1' } })).json();
    await settled(eu.adminUrl);
    for (const kind of ['memory', 'redis'] as const) {
      const r = apps[kind];
      const before = await hits(r, 'hit');
      expect(await orgName(r, org.id)).toBe('Made in Ireland');
      expect(await orgName(r, org.id)).toBe('Made in Ireland');
      expect(await hits(r, 'hit'), `${kind}: the second read is a cache hit`).toBeGreaterThan(before);
    }
    await until('the organization in us-east-1', () => query(us.adminUrl, 'SELECT name FROM organization WHERE id = $1', [org.id]), (rows) => rows.length === 1);
    await query(us.adminUrl, "UPDATE organization SET name = 'Renamed in Virginia' WHERE id = $1", [org.id]);
    // Applied in eu-west-1 by the subscription's apply worker, not by anything this API did.
    const [row] = await until(
      'the rename in eu-west-1',
      () => query<{ name: string; origin_region: string }>(eu.adminUrl, 'SELECT name, origin_region FROM organization WHERE id = $1', [org.id]),
      (rows) => rows[0]?.name === 'Renamed in Virginia',
    );
    expect(row!.origin_region).toBe('us-east-1');
    await settled(eu.adminUrl);
    for (const kind of ['memory', 'redis'] as const) expect(await orgName(apps[kind], org.id), kind).toBe('Renamed in Virginia');
  });

  it('reconnects with a new slot after losing its stream, and invalidates again', async () => {
    const r = apps.memory;
    const slots = async () =>
      (await query<{ slot_name: string; active_pid: number | null }>(eu.adminUrl, "SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name LIKE 'atlas\\_cache\\_%' AND active")).map(
        (s) => s.slot_name,
      );
    const org = (await r.authed().inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Before the cut', homeRegion: 'eu-west-1' } })).json();
    await settled(eu.adminUrl);
    expect(await orgName(r, org.id)).toBe('Before the cut');
    const old = await slots();
    expect(old).toHaveLength(2);
    // Cut every stream's connection: their temporary slots go with them.
    await query(eu.adminUrl, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name LIKE 'atlas\\_cache\\_%' AND active");
    const renewed = await until('new cache slots', slots, (names) => names.length === 2 && names.every((n) => !old.includes(n)));
    expect(renewed).toHaveLength(2);
    await query(eu.adminUrl, "UPDATE organization SET name = 'After the cut' WHERE id = $1", [org.id]);
    await settled(eu.adminUrl);
    expect(await orgName(r, org.id)).toBe('After the cut');
  });

  it('reads from the database while its stream is down, and caches again once it is back', async () => {
    const r = apps.memory;
    const org = (await r.authed().inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Steady', homeRegion: 'eu-west-1' } })).json();
    await settled(eu.adminUrl);
    expect(await orgName(r, org.id)).toBe('Steady');
    // The stream cannot come back (its role may not log in) once its connection is cut.
    await query(eu.adminUrl, 'ALTER ROLE atlas_cache_stream NOLOGIN');
    try {
      await query(eu.adminUrl, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name LIKE 'atlas\\_cache\\_%' AND active");
      await until('the cache suspended', async () => r.app.atlas.cache.isSuspended, (down) => down);
      const hitsBefore = await hits(r, 'hit');
      for (const name of ['Changed while down', 'Changed again while down']) {
        // No stream carries this change: only a read that skips the cache can see it.
        await query(eu.adminUrl, 'UPDATE organization SET name = $1 WHERE id = $2', [name, org.id]);
        expect(await orgName(r, org.id)).toBe(name);
        expect(await orgName(r, org.id)).toBe(name);
      }
      expect(await hits(r, 'hit')).toBe(hitsBefore);
    } finally {
      await query(eu.adminUrl, 'ALTER ROLE atlas_cache_stream LOGIN');
    }
    await until('the cache back in use', async () => r.app.atlas.cache.isSuspended, (down) => !down);
    const hitsBack = await hits(r, 'hit');
    expect(await orgName(r, org.id)).toBe('Changed again while down');
    expect(await orgName(r, org.id)).toBe('Changed again while down');
    expect(await hits(r, 'hit')).toBeGreaterThan(hitsBack);
  });

  it('starts and serves without the cache when its stream cannot connect at all', async () => {
    const broken = new URL(eu.cacheStreamUrl);
    broken.password = 'not-the-password';
    const config: ApiConfig = { ...freshApiConfig(fresh, eu.region.id), cacheStreamUrl: broken.toString() };
    const db = createDb(config.databaseUrl, { max: 2 });
    const app = await buildApp(config, db, { logger: false });
    const r = regionApp(eu.region.id as RegionId, app, db);
    try {
      await app.ready();
      expect(app.atlas.cache.isSuspended).toBe(true);
      const org = (await r.authed().inject({ method: 'POST', url: '/api/orgs', payload: { name: 'First', homeRegion: 'eu-west-1' } })).json();
      expect(await orgName(r, org.id)).toBe('First');
      await query(eu.adminUrl, "UPDATE organization SET name = 'Second' WHERE id = $1", [org.id]);
      expect(await orgName(r, org.id)).toBe('Second');
      expect(await hits(r, 'hit')).toBe(0);
    } finally {
      await r.close();
    }
  });
});

describe('the stream role and the API role', () => {
  const replicationClient = (url: string) => new pg.Client({ connectionString: url, replication: 'database' } as pg.ClientConfig);

  it('lets atlas_app neither open a replication connection nor create a decoding slot', async () => {
    const appUrl = cluster().databases['eu-west-1']!.appUrl;
    const c = replicationClient(appUrl);
    c.on('error', () => undefined);
    await expect(
      (async () => {
        await c.connect();
        await c.query("CREATE_REPLICATION_SLOT atlas_app_probe TEMPORARY LOGICAL test_decoding (SNAPSHOT 'nothing')");
      })(),
    ).rejects.toThrow(/permission denied to start WAL sender/);
    await c.end().catch(() => undefined);
    await expect(query(appUrl, "SELECT pg_create_logical_replication_slot('atlas_app_probe', 'test_decoding', true)")).rejects.toThrow(/permission denied|replication/);
  });

  it('gives the stream role no table privilege, only replication', async () => {
    const streamUrl = cluster().databases['eu-west-1']!.cacheStreamUrl;
    await expect(query(streamUrl, 'SELECT id FROM organization LIMIT 1')).rejects.toThrow(/permission denied/);
    const c = replicationClient(streamUrl);
    await c.connect();
    try {
      const { rows } = await c.query<{ slot_name: string }>("CREATE_REPLICATION_SLOT atlas_roleprobe_stream TEMPORARY LOGICAL pgoutput (SNAPSHOT 'nothing')");
      expect(rows[0]!.slot_name).toBe('atlas_roleprobe_stream');
    } finally {
      await c.end();
    }
  });
});
