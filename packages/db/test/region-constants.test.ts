import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';

/**
 * Migration 028: atlas_region() and atlas_region_code() are compiled from atlas_cluster instead
 * of querying it on every call. They must still say what atlas_cluster says, at once and in
 * every session, and the residency guard (rule R1) must still refuse a foreign row.
 */
let fresh: FreshRegions;
let admin: pg.Client;
let app: pg.Client;
const ORG = (code: string) => `org_${code}_${'b'.repeat(20)}`;

beforeAll(async () => {
  fresh = await startFreshRegions(1, { prefix: 'atlas-constants-' });
  admin = new pg.Client({ connectionString: fresh.databases[0]!.adminUrl });
  app = new pg.Client({ connectionString: fresh.databases[0]!.appUrl });
  await Promise.all([admin.connect(), app.connect()]);
});

afterAll(async () => {
  await Promise.all([admin?.end(), app?.end()]);
  await fresh?.stop();
});

const REGION_NOW = 'SELECT atlas_region() AS region, atlas_region_code() AS code';
const regionOf = async (c: pg.Client) => (await c.query<{ region: string; code: string }>(REGION_NOW)).rows[0]!;
/** The same query as a named prepared statement: its plan is cached in the session. */
const preparedRegionOf = async (c: pg.Client) => (await c.query<{ region: string; code: string }>({ name: 'region-now', text: REGION_NOW })).rows[0]!;

describe('the region as compiled constants', () => {
  it("say what atlas_cluster says, to the application role too, without reading the table as its owner", async () => {
    const cluster = (await admin.query<{ region: string; region_code: string }>('SELECT region, region_code FROM atlas_cluster')).rows[0]!;
    expect(cluster.region).toBe(fresh.databases[0]!.region.id);
    expect(await regionOf(app)).toEqual({ region: cluster.region, code: cluster.region_code });
    const { rows } = await admin.query<{ proname: string; prosecdef: boolean; proconfig: string[] | null }>(
      "SELECT proname, prosecdef, proconfig FROM pg_proc WHERE proname IN ('atlas_region', 'atlas_region_code') ORDER BY proname",
    );
    expect(rows).toEqual([
      { proname: 'atlas_region', prosecdef: false, proconfig: null },
      { proname: 'atlas_region_code', prosecdef: false, proconfig: null },
    ]);
  });

  it('fill the region of a regional row and let the residency guard refuse a foreign organization', async () => {
    const { code } = await regionOf(app);
    await admin.query('BEGIN');
    try {
      const { rows } = await admin.query<{ region: string }>('INSERT INTO dossier (org_id, title) VALUES ($1, $2) RETURNING region', [ORG(code), 'constants']);
      expect(rows[0]!.region).toBe(fresh.databases[0]!.region.id);
      await expect(admin.query('INSERT INTO dossier (org_id, title) VALUES ($1, $2)', [ORG('use1x'), 'foreign'])).rejects.toMatchObject({ code: 'AT001' });
    } finally {
      await admin.query('ROLLBACK');
    }
  });

  it('follow a change of atlas_cluster in the same transaction, and in cached plans of other sessions once it commits', async () => {
    const before = await regionOf(app);
    // A generic plan, built after five custom ones, holds whatever the planner inlined.
    for (let i = 0; i < 8; i++) expect(await preparedRegionOf(app)).toEqual(before);

    await admin.query('BEGIN');
    await admin.query("UPDATE atlas_cluster SET region = 'xx-test-1', region_code = 'xxt1'");
    expect(await regionOf(admin)).toEqual({ region: 'xx-test-1', code: 'xxt1' });
    // The guard follows: the region's own organizations are now foreign.
    await admin.query('SAVEPOINT s');
    await expect(admin.query('INSERT INTO dossier (org_id, title) VALUES ($1, $2)', [ORG(before.code), 'moved'])).rejects.toMatchObject({ code: 'AT001' });
    await admin.query('ROLLBACK TO SAVEPOINT s');
    // Not visible elsewhere before the commit.
    expect(await regionOf(app)).toEqual(before);
    await admin.query('COMMIT');
    try {
      expect(await preparedRegionOf(app)).toEqual({ region: 'xx-test-1', code: 'xxt1' });
    } finally {
      await admin.query('UPDATE atlas_cluster SET region = $1, region_code = $2', [before.region, before.code]);
    }
    expect(await regionOf(app)).toEqual(before);
  });
});
