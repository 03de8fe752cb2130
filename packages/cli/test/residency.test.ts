import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRegion } from '@atlas/core';
import { createDb, regionDir, type AtlasDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { residencyVerify, type Check } from '../src/commands/residency';
import { apiConfig } from '../../../test/support/regions';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';

/** A running three-region cluster of its own: databases, and APIs listening on their ports. */
describe('atlas residency verify', { timeout: 120_000 }, () => {
  let fresh: FreshRegions;
  const running = new Map<string, { app: FastifyInstance; db: AtlasDb }>();
  const lines: string[] = [];

  async function start(regionId: string, logTo?: string): Promise<void> {
    const region = requireRegion(fresh.topology, regionId);
    const database = fresh.databases.find((d) => d.region.id === regionId)!;
    const config = { ...apiConfig(regionId), topology: fresh.topology, region, home: fresh.home, databaseUrl: database.appUrl, cacheStreamUrl: database.cacheStreamUrl, port: region.apiPort };
    const db = createDb(config.databaseUrl, { max: 3 });
    const app = await buildApp(config, db, { logger: logTo ? { level: 'info', file: logTo } : false });
    if (logTo) {
      // The planted fault: request bodies logged, and shipped to another region's log.
      app.addHook('preHandler', async (request) => request.log.info({ body: request.body }, 'request body'));
    }
    await app.listen({ host: '127.0.0.1', port: region.apiPort });
    running.set(regionId, { app, db });
  }
  async function stop(regionId: string): Promise<void> {
    const r = running.get(regionId);
    running.delete(regionId);
    await r?.app.close();
    await r?.db.destroy();
  }
  const verify = () => residencyVerify({ home: fresh.home, topology: fresh.topology, log: (l) => lines.push(l) });
  const leaks = (checks: Check[]) => checks.filter((c) => c.status === 'LEAK').map((c) => c.place);
  const sql = async (regionId: string, text: string) => {
    const c = new pg.Client({ connectionString: fresh.databases.find((d) => d.region.id === regionId)!.adminUrl });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    fresh = await startFreshRegions(3, { prefix: 'atlas-residency-' });
    for (const r of fresh.topology.regions) await start(r.id);
    await sql('eu-west-1', 'CREATE PUBLICATION atlas_residency_test FOR TABLE organization, app_user');
  });
  afterAll(async () => {
    for (const id of [...running.keys()]) await stop(id);
    await fresh.stop();
  });

  it('passes on a healthy cluster, place by place', async () => {
    const { code, checks } = await verify();
    expect(leaks(checks)).toEqual([]);
    expect(code).toBe(0);
    const places = new Set(checks.map((c) => `${c.region} ${c.place.split(' ')[0]}`));
    for (const r of ['eu-west-1', 'us-east-1', 'ap-southeast-1']) {
      for (const p of ['database', 'publications', 'log,', 'cache']) expect([...places].some((x) => x.startsWith(`${r} ${p}`)), `${r} ${p}`).toBe(true);
    }
    expect(lines.at(-1)).toContain('residency verified');
  });

  it('fails naming the publication when a regional table is published, and passes once undone', async () => {
    await sql('eu-west-1', 'ALTER PUBLICATION atlas_residency_test ADD TABLE dossier');
    const bad = await verify();
    expect(bad.code).toBe(1);
    expect(leaks(bad.checks)).toContain('publication atlas_residency_test on eu-west-1: table dossier');
    expect(lines.at(-1)).toContain('RESIDENCY LEAK at');
    await sql('eu-west-1', 'ALTER PUBLICATION atlas_residency_test DROP TABLE dossier');
    expect((await verify()).code).toBe(0);
  });

  it("fails naming the log file when a region's row content reaches another region's log, and passes once undone", async () => {
    const foreignLog = join(regionDir(fresh.home, 'us-east-1'), 'api.log');
    await stop('eu-west-1');
    await start('eu-west-1', foreignLog);
    const bad = await verify();
    expect(bad.code).toBe(1);
    expect(leaks(bad.checks)).toContain('file us-east-1/api.log');
    expect(bad.checks.find((c) => c.place === 'file us-east-1/api.log')!.detail).toContain('canary of eu-west-1 (EU)');
    await stop('eu-west-1');
    await start('eu-west-1');
    await truncate(foreignLog, 0);
    expect((await verify()).code).toBe(0);
  });
});
