import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHlc } from '@atlas/core';
import { setClockOffset } from '@atlas/db';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';

/**
 * The clock's fast path (migration 024): a bump sets the clock up to 10 ms ahead of the wall
 * clock, so the writes of the next milliseconds need only a nextval. One region of our own:
 * nothing else moves its clock.
 */
const SLACK_MS = 10;
let fresh: FreshRegions;
let client: pg.Client;

beforeAll(async () => {
  fresh = await startFreshRegions(1, { prefix: 'atlas-hlc-' });
  client = new pg.Client({ connectionString: fresh.nodes[0]!.adminUrl });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await fresh?.stop();
});

describe('hybrid logical clock fast path', () => {
  it('stays between the wall clock and the slack ahead of it, strictly increasing, and bumps at most once per slack window', async () => {
    const stamps: Array<{ hlc: bigint; before: number; after: number }> = [];
    const started = Date.now();
    for (let i = 0; i < 300; i++) {
      const before = Date.now();
      const { rows } = await client.query<{ hlc: string }>(
        "INSERT INTO referential (id, kind, code, label) VALUES ($1, 'hlcfast', $2, 'x') RETURNING hlc::text AS hlc",
        [`hlcfast:${i}`, String(i)],
      );
      stamps.push({ hlc: BigInt(rows[0]!.hlc), before, after: Date.now() });
      // Spread the writes over time, so the wall clock moves between most of them.
      if (i % 3 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const elapsed = Date.now() - started;
    for (let i = 0; i < stamps.length; i++) {
      const s = stamps[i]!;
      const ms = decodeHlc(s.hlc).physicalMs;
      // Never below the wall clock at the write, never more than the slack ahead of it.
      expect(ms).toBeGreaterThanOrEqual(s.before);
      expect(ms).toBeLessThanOrEqual(s.after + SLACK_MS);
      if (i > 0) expect(s.hlc).toBeGreaterThan(stamps[i - 1]!.hlc);
    }
    // Every bump starts a new physical part at least the slack above the previous one's
    // wall time, so the distinct physical parts are bounded by the elapsed time / slack.
    const physical = new Set(stamps.map((s) => decodeHlc(s.hlc).physicalMs));
    expect(physical.size).toBeLessThanOrEqual(Math.floor(elapsed / SLACK_MS) + 2);
    expect(physical.size).toBeLessThan(stamps.length);
  });

  it('moves past an observed remote version through the same bump', async () => {
    const { rows: cur } = await client.query<{ v: string }>('SELECT atlas_hlc_current()::text AS v');
    const remote = BigInt(cur[0]!.v) + (5_000n << 16n); // a peer 5 s ahead
    await client.query('SELECT atlas_hlc_observe($1::bigint)', [remote.toString()]);
    const { rows } = await client.query<{ hlc: string }>(
      "INSERT INTO referential (id, kind, code, label) VALUES ('hlcfast:after-remote', 'hlcfast', 'after-remote', 'x') RETURNING hlc::text AS hlc",
    );
    expect(BigInt(rows[0]!.hlc)).toBeGreaterThan(remote);
  });

  // Last: it leaves the clock an hour ahead (it never moves back).
  it('a session already open stamps with a changed clock offset from its next write (the compiled constants are re-created)', async () => {
    const write = async (code: string) => {
      const { rows } = await client.query<{ hlc: string; origin_region: string }>(
        "INSERT INTO referential (id, kind, code, label) VALUES ('hlcfast:' || $1, 'hlcfast', $1, 'x') RETURNING hlc::text AS hlc, origin_region",
        [code],
      );
      return { hlc: BigInt(rows[0]!.hlc), origin: rows[0]!.origin_region };
    };
    expect((await write('offset-before')).origin).toBe(fresh.databases[0]!.region.id);
    const HOUR = 3_600_000;
    await setClockOffset(fresh.nodes[0]!.adminUrl, HOUR);
    try {
      const before = Date.now();
      const ahead = await write('offset-after');
      const after = Date.now();
      expect(decodeHlc(ahead.hlc).physicalMs).toBeGreaterThanOrEqual(before + HOUR);
      expect(decodeHlc(ahead.hlc).physicalMs).toBeLessThanOrEqual(after + HOUR + SLACK_MS);
      expect(ahead.origin).toBe(fresh.databases[0]!.region.id);
    } finally {
      await setClockOffset(fresh.nodes[0]!.adminUrl, 0);
    }
  });
});

describe('a global table registered after the fact (migration 027)', () => {
  it('gets its own stamp and apply triggers: local writes stamped, a replicated insert of an existing key merged and logged', async () => {
    await client.query(`CREATE TABLE late_global (
      code text PRIMARY KEY, label text NOT NULL,
      hlc bigint NOT NULL DEFAULT 0, origin_region text NOT NULL DEFAULT '', tombstone text,
      base_hlc bigint NOT NULL DEFAULT 0, base_origin text)`);
    // Not registered yet: refused, and nothing is installed.
    await expect(client.query("SELECT atlas_install_global_triggers('late_global')")).rejects.toThrow(/late_global is not a registered global table/);
    const triggers = async () =>
      (await client.query<{ tgname: string }>("SELECT tgname FROM pg_trigger WHERE tgrelid = 'late_global'::regclass ORDER BY tgname")).rows.map((r) => r.tgname);
    expect(await triggers()).toEqual([]);

    await client.query(`INSERT INTO atlas_global_table (table_name, key_column, erased_values) VALUES ('late_global', 'code', '{"label": "(erased)"}')`);
    await client.query("SELECT atlas_install_global_triggers('late_global')");
    expect(await triggers()).toEqual(['atlas_apply_delete', 'atlas_apply_insert', 'atlas_apply_update', 'atlas_stamp_delete', 'atlas_stamp_insert', 'atlas_stamp_update']);

    // A local write is stamped: a version from the clock, this region as origin.
    const { rows: local } = await client.query<{ hlc: string; origin_region: string }>(
      "INSERT INTO late_global (code, label, hlc, origin_region) VALUES ('a', 'local', 1, 'forged') RETURNING hlc::text AS hlc, origin_region",
    );
    expect(BigInt(local[0]!.hlc)).toBeGreaterThan(1n);
    expect(local[0]!.origin_region).toBe(fresh.databases[0]!.region.id);

    // A peer's insert of the same key with a higher version, as the apply worker writes it:
    // merged over the local row, no duplicate key, and logged as a real conflict.
    const remoteHlc = BigInt(local[0]!.hlc) + (1_000n << 16n);
    await client.query('BEGIN');
    try {
      await client.query('SET LOCAL session_replication_role = replica');
      await client.query("INSERT INTO late_global (code, label, hlc, origin_region) VALUES ('a', 'remote', $1, 'zz-peer-1')", [remoteHlc.toString()]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
    const { rows: merged } = await client.query("SELECT label, hlc::text AS hlc, origin_region FROM late_global WHERE code = 'a'");
    expect(merged).toEqual([{ label: 'remote', hlc: remoteHlc.toString(), origin_region: 'zz-peer-1' }]);
    const { rows: logged } = await client.query("SELECT kind, decision FROM replication_conflict WHERE table_name = 'late_global' AND row_id = 'a'");
    expect(logged).toEqual([{ kind: 'insert_exists', decision: 'remote_wins' }]);
  });
});
