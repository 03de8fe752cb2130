import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHlc, maxVersion } from '@atlas/core';
import {
  DelayProxy,
  PUBLICATION_NAME,
  disableSubscription,
  enableSubscription,
  endpointFromUrl,
  repairGlobalTables,
  replicationStatus,
  repointSubscription,
  resyncSubscription,
  setClockOffset,
  setupMesh,
  subscriptionName,
  waitForReplication,
  type MeshNode,
} from '@atlas/db';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';
import { checksums, eventually, query, versions, type StoredVersion } from './replication-support';

/**
 * Three fresh regions of our own (the suite pauses, breaks and re-creates links, which must
 * not disturb the shared clusters), every link through a small delay proxy so that
 * concurrent writes really cross on the wire.
 */
let fresh: FreshRegions;
let eu: MeshNode;
let us: MeshNode;
let ap: MeshNode;
let all: MeshNode[];
const proxies = new Map<string, DelayProxy>();

const endpoint = (link: { from: string; to: string }) => {
  const p = proxies.get(`${link.from}>${link.to}`)!;
  return { host: '127.0.0.1', port: p.port };
};

beforeAll(async () => {
  fresh = await startFreshRegions(3, { prefix: 'atlas-repl-' });
  all = [...fresh.nodes];
  [eu, us, ap] = all as [MeshNode, MeshNode, MeshNode];
  for (const from of all) {
    for (const to of all) {
      if (from === to) continue;
      const target = endpointFromUrl(from.adminUrl);
      proxies.set(`${from.region}>${to.region}`, await DelayProxy.start({ target, delayMs: 3 }));
    }
  }
});

afterAll(async () => {
  await Promise.allSettled([...proxies.values()].map((p) => p.close()));
  await fresh?.stop();
});

const subscriptionErrors = async (): Promise<number> => {
  const statuses = (await Promise.all(all.map((n) => replicationStatus(n.adminUrl)))).flat();
  return statuses.reduce((sum, s) => sum + s.applyErrorCount + s.syncErrorCount, 0);
};

describe('mesh set-up and a region that joins late', () => {
  it('gives a late region the existing rows once, and its own rows to the others, without loops', async () => {
    await query(eu, "INSERT INTO referential (id, kind, code, label) VALUES ('join:eu1', 'join', 'eu1', 'EU before')");
    await query(ap, "INSERT INTO referential (id, kind, code, label) VALUES ('join:ap1', 'join', 'ap1', 'AP alone')");
    const first = await setupMesh([eu, us], { endpoint });
    expect(first.ok).toBe(true);
    expect(first.initialSync?.rowsRepaired).toBe(1); // eu1 to us
    await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ('join:us1', 'join', 'us1', 'US in the pair')");
    await waitForReplication([eu, us]);

    const joined = await setupMesh(all, { endpoint });
    expect(joined.ok).toBe(true);
    expect(joined.steps.filter((s) => s.status === 'created').map((s) => s.name).sort()).toEqual(
      [
        PUBLICATION_NAME,
        subscriptionName('ap-southeast-1', 'eu-west-1'),
        subscriptionName('ap-southeast-1', 'us-east-1'),
        subscriptionName('eu-west-1', 'ap-southeast-1'),
        subscriptionName('us-east-1', 'ap-southeast-1'),
      ].sort(),
    );
    await waitForReplication(all);
    const expected = new Map([
      ['join:eu1', 'eu-west-1'],
      ['join:ap1', 'ap-southeast-1'],
      ['join:us1', 'us-east-1'],
    ]);
    for (const node of all) {
      const rows = await versions(node, 'referential', 'id', "kind = 'join'");
      // Every row present once, still carrying the version its writer gave it: nothing re-stamped.
      expect(new Map([...rows].map(([k, v]) => [k, v.origin]))).toEqual(expected);
    }
    const euRows = await versions(eu, 'referential', 'id', "kind = 'join'");
    expect(await versions(ap, 'referential', 'id', "kind = 'join'")).toEqual(euRows);
    // Distinct keys: nothing to decide, so nothing logged; and no echo came back.
    for (const node of all) expect(await query(node, 'SELECT * FROM replication_conflict')).toEqual([]);

    const again = await setupMesh(all, { endpoint });
    expect(again.steps.every((s) => s.status === 'unchanged')).toBe(true);
    expect(again.initialSync).toBeUndefined();
    expect(await subscriptionErrors()).toBe(0);
  });
});

describe('residency', () => {
  it('publishes the four global tables by name and nothing else', async () => {
    for (const node of all) {
      // atlas_global: to the other regions; atlas_cache: to the API's cache-invalidation stream (migration 025).
      const pubs = await query<{ pubname: string; puballtables: boolean; pubtruncate: boolean }>(node, 'SELECT pubname, puballtables, pubtruncate FROM pg_publication ORDER BY pubname');
      expect(pubs).toEqual([
        { pubname: 'atlas_cache', puballtables: false, pubtruncate: true },
        { pubname: PUBLICATION_NAME, puballtables: false, pubtruncate: false },
      ]);
      for (const pubname of ['atlas_cache', PUBLICATION_NAME]) {
        const tables = await query<{ tablename: string }>(node, 'SELECT tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY tablename', [pubname]);
        expect(tables.map((t) => t.tablename)).toEqual(['app_user', 'organization', 'referential', 'user_preferences']);
      }
    }
  });

  it('carries no regional row in the replication stream, and none reaches another region', async () => {
    const slot = 'atlas_residency_probe';
    await query(eu, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    try {
      const orgId = 'org_euw1_residencyprobe000000';
      await query(eu, "INSERT INTO organization (id, name, home_region) VALUES ($1, 'Probe Estates', 'eu-west-1')", [orgId]);
      await query(eu, "INSERT INTO dossier (org_id, title, client_name, client_email) VALUES ($1, 'Probe dossier', 'Zoë Secret', 'zoe.secret@example.eu')", [orgId]);
      await query(eu, "INSERT INTO user_profile (user_id, org_id, email, full_name) VALUES ('usr_probe', $1, 'probe.person@example.eu', 'Probe Person')", [orgId]);
      const changes = await query<{ data: Buffer }>(
        eu,
        "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)",
        [slot, PUBLICATION_NAME],
      );
      // pgoutput: 'R' relation messages name every table the stream carries rows of.
      const relations = changes
        .filter((c) => c.data[0] === 0x52)
        .map((c) => {
          const body = c.data.subarray(5);
          const ns = body.subarray(0, body.indexOf(0)).toString();
          const rest = body.subarray(body.indexOf(0) + 1);
          return `${ns}.${rest.subarray(0, rest.indexOf(0)).toString()}`;
        });
      expect(relations).toEqual(['public.organization']);
      const inserts = changes.filter((c) => c.data[0] === 0x49);
      expect(inserts).toHaveLength(1);
      const stream = Buffer.concat(changes.map((c) => c.data)).toString('latin1');
      expect(stream).toContain('Probe Estates');
      for (const secret of ['zoe.secret@example.eu', 'Zoë Secret', 'Probe dossier', 'probe.person@example.eu']) {
        expect(stream).not.toContain(Buffer.from(secret).toString('latin1'));
      }
      await waitForReplication(all);
      for (const node of [us, ap]) {
        expect(await query(node, 'SELECT id FROM organization WHERE id = $1', [orgId])).toHaveLength(1);
        expect(await query(node, 'SELECT 1 FROM dossier UNION ALL SELECT 1 FROM user_profile')).toEqual([]);
      }
    } finally {
      await query(eu, 'SELECT pg_drop_replication_slot($1)', [slot]);
    }
  });
});

describe('hybrid logical clock', () => {
  it('stamps every local write in the database, monotonic, with the region as origin', async () => {
    const stamped: bigint[] = [];
    for (let i = 0; i < 20; i++) {
      const [row] = await query<{ hlc: string; origin_region: string }>(
        us,
        `INSERT INTO referential (id, kind, code, label) VALUES ($1, 'clock', $2, 'x') ON CONFLICT (id) DO UPDATE SET label = 'y'
         RETURNING hlc::text, origin_region`,
        [`clock:${i % 5}`, String(i % 5)],
      );
      expect(row!.origin_region).toBe('us-east-1');
      stamped.push(BigInt(row!.hlc));
    }
    expect(stamped.every((v, i) => i === 0 || v > stamped[i - 1]!)).toBe(true);
    // Plain SQL cannot forge a version or an origin: the trigger overwrites both.
    const [forged] = await query<{ hlc: string; origin_region: string }>(
      us,
      "UPDATE referential SET hlc = 1, origin_region = 'eu-west-1' WHERE id = 'clock:0' RETURNING hlc::text, origin_region",
    );
    expect(BigInt(forged!.hlc)).toBeGreaterThan(stamped.at(-1)!);
    expect(forged!.origin_region).toBe('us-east-1');
  });

  it('stays monotonic across a restart even when the wall clock goes back an hour', async () => {
    const db = fresh.databases[1]!;
    const [before] = await query<{ hlc: string }>(us, "UPDATE referential SET label = 'before restart' WHERE id = 'clock:1' RETURNING hlc::text");
    await setClockOffset(us.adminUrl, -3_600_000);
    try {
      await db.node.stop('fast');
      await db.node.start();
      const [after] = await query<{ hlc: string }>(us, "UPDATE referential SET label = 'after restart' WHERE id = 'clock:1' RETURNING hlc::text");
      expect(BigInt(after!.hlc)).toBeGreaterThan(BigInt(before!.hlc));
    } finally {
      await setClockOffset(us.adminUrl, 0);
    }
    await waitForReplication(all);
    // The peers' apply workers counted the restart (a lost connection) as an error: the
    // suites below count errors from here.
    for (const node of all) await query(node, 'SELECT pg_stat_reset_subscription_stats(NULL)');
  });

  it('orders a causally later write after the one it follows when the writer is 5 minutes behind', async () => {
    await setClockOffset(ap.adminUrl, -5 * 60_000);
    try {
      const [first] = await query<{ hlc: string }>(eu, "INSERT INTO referential (id, kind, code, label) VALUES ('skew:a', 'skew', 'a', 'eu first') RETURNING hlc::text");
      await waitForReplication([eu]);
      const [second] = await query<{ hlc: string }>(ap, "UPDATE referential SET label = 'ap after reading it' WHERE id = 'skew:a' RETURNING hlc::text");
      expect(BigInt(second!.hlc)).toBeGreaterThan(BigInt(first!.hlc));
      // ap's own clock reads 5 minutes ago; the version is not from its wall clock.
      expect(decodeHlc(BigInt(second!.hlc)).physicalMs).toBeGreaterThan(Date.now() - 60_000);
      await waitForReplication(all);
      for (const node of all) {
        const [row] = await query<{ label: string; origin_region: string }>(node, "SELECT label, origin_region FROM referential WHERE id = 'skew:a'");
        expect(row).toEqual({ label: 'ap after reading it', origin_region: 'ap-southeast-1' });
        // A causal successor is not a conflict.
        expect(await query(node, "SELECT * FROM replication_conflict WHERE row_id = 'skew:a'")).toEqual([]);
      }

      // Truly concurrent writes under the same skew: the region behind loses, everywhere, and it is logged.
      await disableSubscription(ap.adminUrl, 'eu-west-1');
      await disableSubscription(eu.adminUrl, 'ap-southeast-1');
      await query(ap, "UPDATE referential SET label = 'ap concurrent' WHERE id = 'skew:a'");
      await query(eu, "UPDATE referential SET label = 'eu concurrent' WHERE id = 'skew:a'");
      await enableSubscription(ap.adminUrl, 'eu-west-1');
      await enableSubscription(eu.adminUrl, 'ap-southeast-1');
      await waitForReplication(all);
      for (const node of all) {
        const [row] = await query<{ label: string }>(node, "SELECT label FROM referential WHERE id = 'skew:a'");
        expect(row!.label).toBe('eu concurrent');
      }
      const logged = await query<{ kind: string; decision: string; local_origin: string; remote_origin: string }>(
        eu,
        "SELECT kind, decision, local_origin, remote_origin FROM replication_conflict WHERE row_id = 'skew:a'",
      );
      expect(logged).toEqual([{ kind: 'update_update', decision: 'local_wins', local_origin: 'eu-west-1', remote_origin: 'ap-southeast-1' }]);
    } finally {
      await setClockOffset(ap.adminUrl, 0);
    }
  });
});

describe('the same key inserted at once here and by replication', () => {
  it("an apply worker waits for a local insert of the key still in flight, then merges: no subscription error, no lock on local inserts", async () => {
    const errorsBefore = await subscriptionErrors();
    const local = new pg.Client({ connectionString: us.adminUrl });
    await local.connect();
    try {
      await local.query('BEGIN');
      await local.query("INSERT INTO referential (id, kind, code, label) VALUES ('race:k', 'race', 'k', 'us, in flight')");
      // The local transaction holds no lock but its new row's: a peer's insert of the key arrives meanwhile.
      const [{ locks }] = (await local.query<{ locks: string }>("SELECT count(*)::text AS locks FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'")).rows as [{ locks: string }];
      expect(locks).toBe('0');
      await query(eu, "INSERT INTO referential (id, kind, code, label) VALUES ('race:k', 'race', 'k', 'eu, committed')");
      await eventually(async () => {
        const waiting = await query<{ n: string }>(
          us,
          "SELECT count(*)::text AS n FROM pg_stat_activity WHERE backend_type = 'logical replication apply worker' AND wait_event_type = 'Lock'",
        );
        expect(waiting[0]!.n).toBe('1');
      });
      await local.query('COMMIT');
    } finally {
      await local.end();
    }
    await waitForReplication(all);
    const images = await Promise.all(all.map((n) => versions(n, 'referential', 'id', "id = 'race:k'")));
    const winner = images[0]!.get('race:k')!;
    // us committed after eu, but eu's stamp came later: the same version wins everywhere.
    for (const image of images) expect(image.get('race:k')).toEqual(winner);
    const labels = await Promise.all(all.map((n) => query<{ label: string }>(n, "SELECT label FROM referential WHERE id = 'race:k'")));
    expect(new Set(labels.map((l) => l[0]!.label)).size).toBe(1);
    const [atUs] = await query<{ kind: string }>(us, "SELECT kind FROM replication_conflict WHERE row_id = 'race:k' AND source LIKE 'atlas_sub_eu_west_1%'");
    expect(atUs).toEqual({ kind: 'insert_exists' });
    expect(await subscriptionErrors()).toBe(errorsBefore);
  });
});

describe('erasure', () => {
  it('beats a concurrent update made later in another region, blanks the row everywhere and cannot be undone', async () => {
    await query(eu, "INSERT INTO user_preferences (user_id, locale, timezone, theme, preferred_region) VALUES ('usr_erase', 'fr', 'Europe/Paris', 'dark', 'eu-west-1')");
    await waitForReplication(all);
    await disableSubscription(eu.adminUrl, 'us-east-1');
    await disableSubscription(us.adminUrl, 'eu-west-1');
    await query(eu, "UPDATE user_preferences SET tombstone = 'erased' WHERE user_id = 'usr_erase'");
    // Later in wall-clock and HLC terms, but concurrent: us has not seen the erasure.
    await query(us, "UPDATE user_preferences SET theme = 'light', locale = 'de' WHERE user_id = 'usr_erase'");
    await enableSubscription(eu.adminUrl, 'us-east-1');
    await enableSubscription(us.adminUrl, 'eu-west-1');
    await waitForReplication(all);
    const images = await Promise.all(
      all.map((n) => query(n, "SELECT user_id, locale, timezone, theme, preferred_region, tombstone, origin_region FROM user_preferences WHERE user_id = 'usr_erase'")),
    );
    for (const image of images) {
      expect(image).toEqual([
        { user_id: 'usr_erase', locale: 'en', timezone: 'UTC', theme: 'system', preferred_region: null, tombstone: 'erased', origin_region: 'eu-west-1' },
      ]);
    }
    const [atUs] = await query<{ kind: string; decision: string }>(us, "SELECT kind, decision FROM replication_conflict WHERE row_id = 'usr_erase'");
    expect(atUs).toEqual({ kind: 'erase_update', decision: 'remote_wins' });
    const [atEu] = await query<{ kind: string; decision: string; remote_row: { locale: string } }>(
      eu,
      "SELECT kind, decision, remote_row FROM replication_conflict WHERE row_id = 'usr_erase'",
    );
    expect(atEu).toMatchObject({ kind: 'erase_update', decision: 'local_wins', remote_row: { locale: 'de' } });
    await expect(query(ap, "UPDATE user_preferences SET tombstone = NULL WHERE user_id = 'usr_erase'")).rejects.toMatchObject({ code: 'AT004' });
  });
});

type Table = 'referential' | 'user_preferences';
type Write = { kind: 'write'; region: number; table: Table; key: number; action: 'insert' | 'upsert' | 'update' | 'delete' | 'hard-delete' | 'erase' };
type Toggle = { kind: 'toggle'; region: number; peer: number; enable: boolean };
type Op = Write | Toggle;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      region: fc.integer({ min: 0, max: 2 }),
      table: fc.constantFrom<Table>('referential', 'user_preferences'),
      key: fc.integer({ min: 0, max: 3 }),
      action: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom('insert' as const, 'upsert' as const) },
        { weight: 4, arbitrary: fc.constant('update' as const) },
        { weight: 2, arbitrary: fc.constantFrom('delete' as const, 'hard-delete' as const) },
        { weight: 1, arbitrary: fc.constant('erase' as const) },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ kind: fc.constant('toggle' as const), region: fc.integer({ min: 0, max: 2 }), peer: fc.integer({ min: 1, max: 2 }), enable: fc.boolean() })
      .map((t) => ({ ...t, peer: (t.region + t.peer) % 3 })),
  },
);

const VERSION_COLUMNS = 'hlc::text AS hlc, origin_region, tombstone';
const SPEC = {
  referential: { key: 'id', field: 'label', keyOf: (run: string, k: number) => `p${run}:k${k}`, insertColumns: 'id, kind, code, label', insertValues: (key: string) => [key, key.split(':')[0], key.split(':')[1]] },
  user_preferences: { key: 'user_id', field: 'locale', keyOf: (run: string, k: number) => `usr_p${run}_k${k}`, insertColumns: 'user_id, locale', insertValues: (key: string) => [key] },
} as const;

const toVersion = (key: string, r: { hlc: string; origin_region: string; tombstone: StoredVersion['tombstone'] }): StoredVersion => ({
  key,
  hlc: BigInt(r.hlc),
  origin: r.origin_region,
  tombstone: r.tombstone,
});

/** Runs one write as plain SQL; returns the version it stored, or undefined when it wrote nothing. */
async function runWrite(c: pg.Client, run: string, w: Write, n: number): Promise<StoredVersion | undefined> {
  const spec = SPEC[w.table];
  const key = spec.keyOf(run, w.key);
  const value = `r${w.region}n${n}`;
  const returning = (sql: string, values: unknown[]) =>
    c.query<{ hlc: string; origin_region: string; tombstone: StoredVersion['tombstone'] }>(`${sql} RETURNING ${VERSION_COLUMNS}`, values);
  let result;
  switch (w.action) {
    case 'insert':
    case 'upsert': {
      const values = [...spec.insertValues(key), value];
      const placeholders = values.map((_, i) => `$${i + 1}`).join(', ');
      const onConflict = w.action === 'insert' ? 'DO NOTHING' : `DO UPDATE SET ${spec.field} = EXCLUDED.${spec.field}, tombstone = NULL`;
      try {
        result = await returning(`INSERT INTO ${w.table} (${spec.insertColumns}) VALUES (${placeholders}) ON CONFLICT (${spec.key}) ${onConflict}`, values);
      } catch (err) {
        if ((err as { code?: string }).code === 'AT004') return undefined; // reviving an erased row is refused
        throw err;
      }
      break;
    }
    case 'update':
      result = await returning(`UPDATE ${w.table} SET ${spec.field} = $2 WHERE ${spec.key} = $1`, [key, value]);
      break;
    case 'delete':
      result = await returning(`UPDATE ${w.table} SET tombstone = 'deleted' WHERE ${spec.key} = $1 AND tombstone IS NULL`, [key]);
      break;
    case 'erase':
      result = await returning(`UPDATE ${w.table} SET tombstone = 'erased' WHERE ${spec.key} = $1`, [key]);
      break;
    case 'hard-delete': {
      // A plain DELETE of a live row becomes a tombstone. The row is locked first, so the
      // version read back in the same transaction is the one this DELETE wrote. Repeatable
      // read: under read committed the DELETE takes a new snapshot and could tombstone a row
      // that replication delivered after the SELECT saw none, a write this model would miss.
      // The price of repeatable read is a serialization failure when replication changed the
      // row after the snapshot: like any client, the model retries the whole transaction.
      for (let attempt = 1; ; attempt += 1) {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        try {
          const live = await c.query(`SELECT 1 FROM ${w.table} WHERE ${spec.key} = $1 AND tombstone IS NULL FOR UPDATE`, [key]);
          const del = await c.query(`DELETE FROM ${w.table} WHERE ${spec.key} = $1 AND tombstone IS NULL`, [key]);
          expect(del.rowCount).toBe(0);
          result = live.rowCount ? await c.query(`SELECT ${VERSION_COLUMNS} FROM ${w.table} WHERE ${spec.key} = $1`, [key]) : { rows: [] };
          await c.query('COMMIT');
          break;
        } catch (err) {
          await c.query('ROLLBACK');
          if ((err as { code?: string }).code !== '40001' || attempt >= 5) throw err;
        }
      }
      break;
    }
  }
  const row = result.rows[0];
  return row ? toVersion(key, row) : undefined;
}

const skippedChanges = async (): Promise<number> =>
  (await Promise.all(all.map((n) => replicationStatus(n.adminUrl))))
    .flat()
    .reduce((sum, s) => sum + s.pgConflicts.updateMissing + s.pgConflicts.deleteMissing, 0);

describe('convergence (property-based)', () => {
  it('converges every global table to the maximum version of its writes, whatever the interleaving', { timeout: 150_000 }, async () => {
    // Keys are unique to this test run, so rows left by an earlier run (or an earlier
    // attempt) never enter the model's expectations.
    const runTag = Date.now().toString(36);
    let runCount = 0;
    let repairedTotal = 0;
    const errorsBefore = await subscriptionErrors();
    const skippedBefore = await skippedChanges();
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 45 }), async (ops) => {
        runCount += 1;
        const run = `${runTag}x${runCount}`;
        const written = new Map<string, StoredVersion[]>();
        const clients = await Promise.all(all.map(async (n) => {
          const c = new pg.Client({ connectionString: n.adminUrl });
          await c.connect();
          return c;
        }));
        let lanes: PromiseSettledResult<void>[];
        try {
          lanes = await Promise.allSettled(
            all.map(async (node, region) => {
              let n = 0;
              for (const op of ops.filter((o) => o.region === region)) {
                n += 1;
                if (op.kind === 'toggle') {
                  const peer = all[op.peer]!.region;
                  await (op.enable ? enableSubscription(node.adminUrl, peer) : disableSubscription(node.adminUrl, peer));
                  continue;
                }
                const v = await runWrite(clients[region]!, run, op, n);
                if (v) written.set(`${op.table}/${v.key}`, [...(written.get(`${op.table}/${v.key}`) ?? []), v]);
              }
            }),
          );
        } finally {
          await Promise.all(clients.map((c) => c.end()));
        }
        for (const node of all) for (const peer of all) if (peer !== node) await enableSubscription(node.adminUrl, peer.region);
        for (const lane of lanes) if (lane.status === 'rejected') throw lane.reason;
        await waitForReplication(all);
        const repair = await repairGlobalTables(all);
        expect(repair.ok).toBe(true);
        repairedTotal += repair.rowsRepaired;
        await waitForReplication(all);

        const sums = await checksums(all);
        for (const [table, perRegion] of Object.entries(sums)) expect(new Set(perRegion).size, table).toBe(1);
        for (const table of ['referential', 'user_preferences'] as const) {
          const key = SPEC[table].key;
          const stored = await versions(eu, table, key, `${key} LIKE $1`, [table === 'referential' ? `p${run}:%` : `usr\\_p${run}\\_%`]);
          const expected = new Map(
            [...written].filter(([k]) => k.startsWith(`${table}/`)).map(([, vs]) => [vs[0]!.key, maxVersion(vs)!]),
          );
          expect(stored).toEqual(expected);
        }
        expect((await repairGlobalTables(all)).rowsRepaired).toBe(0);
      }),
      { numRuns: 8, endOnFailure: true },
    );
    expect(await subscriptionErrors()).toBe(errorsBefore);
    // PostgreSQL skips an UPDATE whose row has not arrived yet (update_missing): replication
    // alone converges except for those rows, which the repair pass restored. Its counters
    // are flushed lazily (about once a second), hence eventually.
    await eventually(async () => expect((await skippedChanges()) - skippedBefore).toBeGreaterThanOrEqual(repairedTotal), 5_000);
  });
});

describe('anti-entropy repair', () => {
  it('restores changes replication skipped while a slot was dropped and re-created, and a second pass finds nothing', async () => {
    await waitForReplication(all);
    const slot = subscriptionName('us-east-1', 'eu-west-1');
    const baseline = await repairGlobalTables(all);
    expect(baseline.rowsRepaired).toBe(0);
    await disableSubscription(eu.adminUrl, 'us-east-1');
    await eventually(async () => {
      const [s] = await query<{ active: boolean }>(us, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      expect(s!.active).toBe(false);
    });
    for (let i = 0; i < 10; i++) await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ($1, 'lost', $2, 'before drop')", [`lost:${i}`, String(i)]);
    await query(us, 'SELECT pg_drop_replication_slot($1)', [slot]);
    for (let i = 10; i < 25; i++) await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ($1, 'lost', $2, 'while dropped')", [`lost:${i}`, String(i)]);
    await query(us, "UPDATE organization SET name = 'renamed while dropped' WHERE id = 'org_euw1_residencyprobe000000'");
    await query(us, "SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)", [slot]);
    await enableSubscription(eu.adminUrl, 'us-east-1');
    await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ('lost:after', 'lost', 'after', 'after re-creation')");
    await waitForReplication(all);

    const euRows = await versions(eu, 'referential', 'id', "kind = 'lost'");
    expect([...euRows.keys()]).toEqual(['lost:after']); // everything before went missing, silently
    expect(await subscriptionErrors()).toBe(0);

    const report = await repairGlobalTables(all);
    expect(report.ok).toBe(true);
    expect(report.rowsRepaired).toBe(26); // 25 missing rows + the older organization
    const euUs = report.pairs.find((p) => p.a === 'eu-west-1' && p.b === 'us-east-1')!;
    const referential = euUs.tables.find((t) => t.table === 'referential')!;
    expect(referential).toMatchObject({ pulledToA: 25, pulledToB: 0 });
    expect(referential.bucketsDiffering).toBeGreaterThan(0);
    expect(referential.bucketsDiffering).toBeLessThan(referential.bucketsCompared);
    expect(euUs.tables.find((t) => t.table === 'app_user')).toMatchObject({ bucketsCompared: 0, bucketsDiffering: 0 });
    expect(euUs.tables.find((t) => t.table === 'organization')).toMatchObject({ pulledToA: 1 });

    await waitForReplication(all);
    const sums = await checksums(all);
    for (const perRegion of Object.values(sums)) expect(new Set(perRegion).size).toBe(1);
    const second = await repairGlobalTables(all);
    expect(second.rowsRepaired).toBe(0);
    expect(second.bucketsDiffering).toBe(0);
  });
});

describe('status and management', () => {
  it('reports every link with its peer, state, lag and counters', async () => {
    await waitForReplication(all);
    for (const node of all) {
      const status = await eventually(async () => {
        const s = await replicationStatus(node.adminUrl);
        expect(s.map((x) => x.workerState)).toEqual(['streaming', 'streaming']);
        return s;
      });
      expect(status.map((s) => s.peerRegion).sort()).toEqual(all.filter((n) => n !== node).map((n) => n.region).sort());
      for (const s of status) {
        expect(s).toMatchObject({ region: node.region, enabled: true, applyErrorCount: 0, publisher: { reachable: true, slotActive: true } });
        expect(s.subscription).toBe(subscriptionName(s.peerRegion, node.region));
        expect(s.lagBytes).toBeGreaterThanOrEqual(0);
        expect(s.lastMsgReceiptTime).toBeInstanceOf(Date);
      }
    }
    const [rc] = await query<{ n: number }>(eu, 'SELECT count(*)::int AS n FROM replication_conflict');
    const euTotal = (await replicationStatus(eu.adminUrl)).reduce((sum, s) => sum + s.conflicts, 0);
    expect(euTotal).toBeLessThanOrEqual(rc!.n);
    expect(euTotal).toBeGreaterThan(0);
  });

  it('disables, enables, re-points and re-synchronises a link', async () => {
    await disableSubscription(ap.adminUrl, 'us-east-1');
    const disabled = (await replicationStatus(ap.adminUrl)).find((s) => s.peerRegion === 'us-east-1')!;
    expect(disabled).toMatchObject({ enabled: false, workerState: 'disabled' });
    await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ('mgmt:1', 'mgmt', '1', 'while disabled')");
    await enableSubscription(ap.adminUrl, 'us-east-1');

    // Re-point through a fresh proxy: the worker reconnects by itself, through it.
    const detour = await DelayProxy.start({ target: endpointFromUrl(us.adminUrl), delayMs: 1 });
    try {
      expect(await repointSubscription(ap.adminUrl, 'us-east-1', { host: '127.0.0.1', port: detour.port })).toMatchObject({ changed: true });
      expect(await repointSubscription(ap.adminUrl, 'us-east-1', { host: '127.0.0.1', port: detour.port })).toMatchObject({ changed: false });
      await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ('mgmt:2', 'mgmt', '2', 'through the detour')");
      await waitForReplication(all);
      expect((await query(ap, "SELECT id FROM referential WHERE kind = 'mgmt' ORDER BY id")).map((r) => r.id)).toEqual(['mgmt:1', 'mgmt:2']);
      expect(detour.counters().bytesDown).toBeGreaterThan(0);

      // Re-synchronise: the link is re-made (its slot with it, so what it had not
      // delivered is gone from the stream) and what the subscriber lacks is pulled.
      await disableSubscription(ap.adminUrl, 'us-east-1');
      await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ('mgmt:4', 'mgmt', '4', 'pending when re-made')");
      const resync = await resyncSubscription(ap.adminUrl, 'us-east-1', { publisherUrl: us.adminUrl });
      expect(resync.subscription).toBe(subscriptionName('us-east-1', 'ap-southeast-1'));
      expect(resync.repair.error).toBeUndefined();
      expect(resync.repair.tables.find((t) => t.table === 'referential')).toMatchObject({ pulledToB: 1, pulledToA: 0 });
      expect(await query(ap, "SELECT label FROM referential WHERE id = 'mgmt:4'")).toEqual([{ label: 'pending when re-made' }]);
      await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ('mgmt:3', 'mgmt', '3', 'after resync')");
      await waitForReplication(all);
      expect(await query(ap, "SELECT id FROM referential WHERE id = 'mgmt:3'")).toHaveLength(1);
      await repointSubscription(ap.adminUrl, 'us-east-1', endpoint({ from: 'us-east-1', to: 'ap-southeast-1' }));
    } finally {
      await detour.close();
    }
    expect(await subscriptionErrors()).toBe(0);
  });
});
