import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHlc } from '@atlas/core';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';

/**
 * Migration 029: the stamps of local inserts and updates run with the writer's rights. The
 * application role writes through them as before, and still cannot drive the clock. One region
 * of our own: nothing else moves its clock.
 */
const SLACK_MS = 10;
let fresh: FreshRegions;
let admin: pg.Client;
let app: pg.Client;
let region: string;

beforeAll(async () => {
  fresh = await startFreshRegions(1, { prefix: 'atlas-stamp-' });
  region = fresh.databases[0]!.region.id;
  admin = new pg.Client({ connectionString: fresh.databases[0]!.adminUrl });
  app = new pg.Client({ connectionString: fresh.databases[0]!.appUrl });
  await Promise.all([admin.connect(), app.connect()]);
});

afterAll(async () => {
  await Promise.all([app?.end(), admin?.end()]);
  await fresh?.stop();
});

const clock = async () => BigInt((await admin.query<{ v: string }>('SELECT atlas_hlc_current()::text AS v')).rows[0]!.v);
const row = async (id: string) =>
  (await admin.query<{ hlc: string; origin_region: string; base_hlc: string; base_origin: string | null; label: string }>(
    'SELECT hlc::text AS hlc, origin_region, base_hlc::text AS base_hlc, base_origin, label FROM referential WHERE id = $1',
    [id],
  )).rows[0]!;

describe('stamps with the writer’s rights (migration 029)', () => {
  it('run as the writer with no settings of their own, and stamp what the application role writes, whatever its search_path', async () => {
    const { rows } = await admin.query<{ proname: string; prosecdef: boolean; proconfig: string[] | null }>(
      "SELECT proname, prosecdef, proconfig FROM pg_proc WHERE proname IN ('atlas_stamp_insert', 'atlas_stamp_update') ORDER BY proname",
    );
    expect(rows).toEqual([
      { proname: 'atlas_stamp_insert', prosecdef: false, proconfig: null },
      { proname: 'atlas_stamp_update', prosecdef: false, proconfig: null },
    ]);

    // No schema to resolve names in: the stamps name every object with its schema.
    await app.query("SET search_path = ''");
    try {
      const before = Date.now();
      await app.query(
        "INSERT INTO public.referential (id, kind, code, label, hlc, origin_region, base_hlc, base_origin) VALUES ('stamp:a', 'stamp', 'a', 'one', 7, 'forged', 5, 'forged')",
      );
      const inserted = await row('stamp:a');
      expect(decodeHlc(BigInt(inserted.hlc)).physicalMs).toBeGreaterThanOrEqual(before);
      expect(decodeHlc(BigInt(inserted.hlc)).physicalMs).toBeLessThanOrEqual(Date.now() + SLACK_MS);
      expect(inserted).toMatchObject({ origin_region: region, base_hlc: '0', base_origin: null });

      await app.query("UPDATE public.referential SET label = 'two', hlc = 1, origin_region = 'forged', base_hlc = 1 WHERE id = 'stamp:a'");
      const updated = await row('stamp:a');
      expect(BigInt(updated.hlc)).toBeGreaterThan(BigInt(inserted.hlc));
      expect(updated).toMatchObject({ label: 'two', origin_region: region, base_hlc: inserted.hlc, base_origin: region });
    } finally {
      await app.query('RESET search_path');
    }
  });

  it('leave the application role no way to drive the clock', async () => {
    const FAR = ((BigInt(Date.now()) + 3_600_000n) << 16n).toString(); // an hour ahead
    await expect(app.query('SELECT atlas_hlc_advance_to($1::bigint)', [FAR])).rejects.toMatchObject({ code: '42501' });
    await expect(app.query('SELECT atlas_hlc_observe($1::bigint)', [FAR])).rejects.toMatchObject({ code: '42501' });
    await expect(app.query("SELECT setval('atlas_hlc_seq', $1::bigint)", [FAR])).rejects.toMatchObject({ code: '42501' });
    // Past a version only a row can vouch for: none holds this one.
    await expect(app.query("SELECT atlas_hlc_pass('referential', 'stamp:a', $1::bigint)", [FAR])).rejects.toMatchObject({ code: 'AT005' });
    await expect(app.query("SELECT atlas_hlc_pass('dossier', 'x', $1::bigint)", [FAR])).rejects.toMatchObject({ code: 'AT005' });
    // Catching up goes no further than the wall clock and the slack.
    const { rows } = await app.query<{ v: string }>('SELECT atlas_hlc_catch_up()::text AS v');
    const after = Date.now();
    expect(decodeHlc(BigInt(rows[0]!.v)).physicalMs).toBeLessThanOrEqual(after + SLACK_MS);
    expect(decodeHlc(await clock()).physicalMs).toBeLessThanOrEqual(Date.now() + SLACK_MS);
  });

  it('give an update a version above the row it replaces even when that row is ahead of the clock, and still refuse reviving an erased row', async () => {
    await app.query("INSERT INTO referential (id, kind, code, label) VALUES ('stamp:b', 'stamp', 'b', 'one')");
    // A version an hour ahead that this region's clock never saw (written with the stamp off,
    // as no replicated row can arrive: the apply triggers observe every version).
    const ahead = (await clock()) + (3_600_000n << 16n);
    await admin.query('BEGIN');
    try {
      await admin.query('ALTER TABLE referential DISABLE TRIGGER atlas_stamp_update');
      await admin.query("UPDATE referential SET hlc = $1::bigint, origin_region = 'zz-peer-1' WHERE id = 'stamp:b'", [ahead.toString()]);
      await admin.query('ALTER TABLE referential ENABLE TRIGGER atlas_stamp_update');
      await admin.query('COMMIT');
    } catch (err) {
      await admin.query('ROLLBACK');
      throw err;
    }
    expect(await clock()).toBeLessThan(ahead);

    await app.query("UPDATE referential SET label = 'two' WHERE id = 'stamp:b'");
    const updated = await row('stamp:b');
    expect(BigInt(updated.hlc)).toBeGreaterThan(ahead);
    expect(updated).toMatchObject({ label: 'two', origin_region: region, base_hlc: ahead.toString(), base_origin: 'zz-peer-1' });
    expect(await clock()).toBeGreaterThanOrEqual(BigInt(updated.hlc));

    await app.query("UPDATE referential SET tombstone = 'erased' WHERE id = 'stamp:b'");
    const erased = await row('stamp:b');
    await expect(app.query("UPDATE referential SET tombstone = NULL, label = 'back' WHERE id = 'stamp:b'")).rejects.toMatchObject({ code: 'AT004' });
    expect(await row('stamp:b')).toEqual(erased);
  });
});
