import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regionDir } from '@atlas/db';
import { residencyVerify, type Check } from '../src/commands/residency';
import { ListeningApps, freshApiConfig } from '../../../test/support/fresh-apps';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';

/** A running three-region cluster of its own: databases, and APIs listening on their ports. */
describe('atlas residency verify', { timeout: 120_000 }, () => {
  let fresh: FreshRegions;
  const apps = new ListeningApps();
  const lines: string[] = [];

  const start = (regionId: string, logTo?: string) =>
    apps.start(freshApiConfig(fresh, regionId), logTo ? { level: 'info', file: logTo } : false, (app) => {
      // The planted fault: request bodies logged, and shipped to another region's log.
      if (logTo) app.addHook('preHandler', async (request) => request.log.info({ body: request.body }, 'request body'));
    });
  const stop = (regionId: string) => apps.stop(regionId);
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
    await apps.stopAll();
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
