import type pg from 'pg';
import { compareVersions, type RowVersion, type Tombstone } from '@atlas/core';
import { withClient } from './connection';
import { globalTables, type GlobalTable } from './global-tables';
import type { MeshNode } from './mesh';

/**
 * Anti-entropy for the global tables. Replication alone can lose a change (an UPDATE that
 * reaches a region before the row's INSERT is skipped by PostgreSQL; a failover can drop
 * what a standby had not received), so this pass compares each table between two regions
 * and pulls every row that is missing or older, through the same conflict rule as the apply
 * path: rows are written in a session with session_replication_role = replica, where the
 * replica triggers (atlas_apply_insert_<table>, atlas_apply_update) decide.
 *
 * Cost: equal tables cost one digest query per table and side. A differing table is split
 * into hash buckets of the key (one more query per side), and only the rows of differing
 * buckets are listed and compared.
 */

export interface RepairOptions {
  /** 'both' (default) pulls whichever side is older; 'a-to-b' only writes to b. */
  readonly direction?: 'both' | 'a-to-b';
  /** Rows per bucket aimed at when a table differs (default 64). */
  readonly rowsPerBucket?: number;
  /** Rows fetched and applied per statement (default 500). */
  readonly batchSize?: number;
}

export interface TableRepair {
  readonly table: string;
  /** Rows covered by the digests, both sides together. */
  readonly rowsCompared: number;
  /** 0 when the table digests matched (one query per side). */
  readonly bucketsCompared: number;
  readonly bucketsDiffering: number;
  /** Rows listed one by one because their bucket differed. */
  readonly rowsExamined: number;
  /** Rows written to a (from b) and to b (from a). */
  readonly pulledToA: number;
  readonly pulledToB: number;
}

export interface PairRepair {
  readonly a: string;
  readonly b: string;
  readonly tables: readonly TableRepair[];
  readonly rowsRepaired: number;
  readonly error?: string;
}

export interface RepairReport {
  readonly ok: boolean;
  readonly pairs: readonly PairRepair[];
  readonly rowsRepaired: number;
  readonly bucketsDiffering: number;
  readonly durationMs: number;
}

interface Digest {
  readonly count: number;
  readonly sum: string;
}

interface ListedVersion extends RowVersion {
  readonly key: string;
}

/** Per-row hash of exactly what the conflict rule looks at: key, hlc, origin, tombstone. */
function rowHash(key: string): string {
  return `('x' || substr(md5(${key} || '|' || hlc::text || '|' || origin_region || '|' || coalesce(tombstone, '-')), 1, 15))::bit(60)::bigint`;
}

function bucketOf(key: string, buckets: number): string {
  return `((('x' || substr(md5(${key}), 1, 8))::bit(32)::int) & ${buckets - 1})`;
}

async function tableDigest(c: pg.Client, t: GlobalTable): Promise<Digest> {
  const key = c.escapeIdentifier(t.keyColumn);
  const { rows } = await c.query<{ n: string; s: string }>(
    `SELECT count(*)::text AS n, coalesce(sum(${rowHash(key)}), 0)::text AS s FROM public.${c.escapeIdentifier(t.table)}`,
  );
  return { count: Number(rows[0]!.n), sum: rows[0]!.s };
}

async function bucketDigests(c: pg.Client, t: GlobalTable, buckets: number): Promise<Map<number, string>> {
  const key = c.escapeIdentifier(t.keyColumn);
  const { rows } = await c.query<{ b: number; n: string; s: string }>(
    `SELECT ${bucketOf(key, buckets)} AS b, count(*)::text AS n, sum(${rowHash(key)})::text AS s
       FROM public.${c.escapeIdentifier(t.table)} GROUP BY 1`,
  );
  return new Map(rows.map((r) => [r.b, `${r.n}:${r.s}`]));
}

async function listVersions(c: pg.Client, t: GlobalTable, buckets: number, wanted: readonly number[]): Promise<Map<string, ListedVersion>> {
  const key = c.escapeIdentifier(t.keyColumn);
  const { rows } = await c.query<{ k: string; hlc: string; origin_region: string; tombstone: Tombstone }>(
    `SELECT ${key} AS k, hlc::text AS hlc, origin_region, tombstone FROM public.${c.escapeIdentifier(t.table)}
      WHERE ${bucketOf(key, buckets)} = ANY($1::int[])`,
    [wanted],
  );
  return new Map(rows.map((r) => [r.k, { key: r.k, hlc: BigInt(r.hlc), origin: r.origin_region, tombstone: r.tombstone }]));
}

/** Copies rows from source to target; the target's replica trigger applies the conflict rule. */
async function pullRows(source: pg.Client, target: pg.Client, t: GlobalTable, keys: readonly string[], sourceRegion: string, batchSize: number): Promise<void> {
  const table = `public.${source.escapeIdentifier(t.table)}`;
  const key = source.escapeIdentifier(t.keyColumn);
  for (let i = 0; i < keys.length; i += batchSize) {
    const batch = keys.slice(i, i + batchSize);
    // The rows stay JSON text end to end: parsed in JavaScript, a bigint hlc would lose digits.
    const { rows } = await source.query<{ r: string }>(`SELECT to_jsonb(t)::text AS r FROM ${table} t WHERE ${key} = ANY($1::text[])`, [batch]);
    if (rows.length === 0) continue;
    await target.query('BEGIN');
    try {
      await target.query('SET LOCAL session_replication_role = replica');
      await target.query("SELECT set_config('atlas.apply_source', $1, true)", [`repair:${sourceRegion}`]);
      await target.query(`INSERT INTO ${table} SELECT * FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)`, [
        `[${rows.map((r) => r.r).join(',')}]`,
      ]);
      await target.query('COMMIT');
    } catch (err) {
      await target.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}

function bucketCountFor(rows: number, perBucket: number): number {
  let n = 16;
  while (n < rows / perBucket && n < 65_536) n *= 2;
  return n;
}

async function repairTable(ca: pg.Client, cb: pg.Client, a: string, b: string, t: GlobalTable, options: RepairOptions): Promise<TableRepair> {
  const [da, db] = await Promise.all([tableDigest(ca, t), tableDigest(cb, t)]);
  const base = { table: t.table, rowsCompared: da.count + db.count };
  if (da.count === db.count && da.sum === db.sum) {
    return { ...base, bucketsCompared: 0, bucketsDiffering: 0, rowsExamined: 0, pulledToA: 0, pulledToB: 0 };
  }
  const buckets = bucketCountFor(Math.max(da.count, db.count), options.rowsPerBucket ?? 64);
  const [ba, bb] = await Promise.all([bucketDigests(ca, t, buckets), bucketDigests(cb, t, buckets)]);
  const differing = [...new Set([...ba.keys(), ...bb.keys()])].filter((k) => ba.get(k) !== bb.get(k));
  const [va, vb] = await Promise.all([listVersions(ca, t, buckets, differing), listVersions(cb, t, buckets, differing)]);
  const toA: string[] = [];
  const toB: string[] = [];
  for (const key of new Set([...va.keys(), ...vb.keys()])) {
    const x = va.get(key);
    const y = vb.get(key);
    if (!y || (x && compareVersions(x, y) > 0)) toB.push(key);
    else if (!x || compareVersions(x, y) < 0) toA.push(key);
  }
  const batch = options.batchSize ?? 500;
  await pullRows(ca, cb, t, toB, a, batch);
  if (options.direction !== 'a-to-b') await pullRows(cb, ca, t, toA, b, batch);
  return {
    ...base,
    bucketsCompared: buckets,
    bucketsDiffering: differing.length,
    rowsExamined: va.size + vb.size,
    pulledToA: options.direction === 'a-to-b' ? 0 : toA.length,
    pulledToB: toB.length,
  };
}

/** Compares every global table between two regions and repairs the older side(s). */
export async function repairPair(a: MeshNode, b: MeshNode, options: RepairOptions = {}): Promise<PairRepair> {
  try {
    return await withClient(a.adminUrl, (ca) =>
      withClient(b.adminUrl, async (cb) => {
        const tables = await globalTables(ca);
        const other = (await globalTables(cb)).map((t) => `${t.table}:${t.keyColumn}`).join(',');
        if (tables.map((t) => `${t.table}:${t.keyColumn}`).join(',') !== other) {
          throw new Error(`${a.region} and ${b.region} do not have the same global tables (migrations differ?)`);
        }
        const results: TableRepair[] = [];
        for (const t of tables) results.push(await repairTable(ca, cb, a.region, b.region, t, options));
        return { a: a.region, b: b.region, tables: results, rowsRepaired: results.reduce((n, r) => n + r.pulledToA + r.pulledToB, 0) };
      }, 'atlas-repair'),
    'atlas-repair');
  } catch (err) {
    return { a: a.region, b: b.region, tables: [], rowsRepaired: 0, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * One anti-entropy pass over every pair of regions, in order: after it, each region holds
 * the winning version of every row any region held when its pairs were compared. A second
 * pass over quiet regions finds nothing to do.
 */
export async function repairGlobalTables(regions: readonly MeshNode[], options: RepairOptions = {}): Promise<RepairReport> {
  const started = performance.now();
  const pairs: PairRepair[] = [];
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) pairs.push(await repairPair(regions[i]!, regions[j]!, options));
  }
  return {
    ok: pairs.every((p) => p.error === undefined),
    pairs,
    rowsRepaired: pairs.reduce((n, p) => n + p.rowsRepaired, 0),
    bucketsDiffering: pairs.reduce((n, p) => n + p.tables.reduce((m, t) => m + t.bucketsDiffering, 0), 0),
    durationMs: performance.now() - started,
  };
}
