import pg from 'pg';
import type { MeshNode } from '@atlas/db';

/** Helpers shared by the replication suites (not a test file: no .test suffix). */

export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(node: MeshNode, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: node.adminUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** md5 of every column of every row, in key order: equal only if the tables are identical. */
export async function tableChecksum(node: MeshNode, table: string, key: string): Promise<string> {
  const rows = await query<{ sum: string }>(
    node,
    `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.${key}), '')) AS sum FROM public.${table} t`,
  );
  return rows[0]!.sum;
}

export const GLOBAL_TABLES = [
  ['organization', 'id'],
  ['app_user', 'id'],
  ['user_preferences', 'user_id'],
  ['referential', 'id'],
] as const;

export async function checksums(nodes: readonly MeshNode[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [table, key] of GLOBAL_TABLES) out[table] = await Promise.all(nodes.map((n) => tableChecksum(n, table, key)));
  return out;
}

export interface StoredVersion {
  readonly key: string;
  readonly hlc: bigint;
  readonly origin: string;
  readonly tombstone: 'deleted' | 'erased' | null;
}

export async function versions(node: MeshNode, table: string, key: string, where = 'true', values: unknown[] = []): Promise<Map<string, StoredVersion>> {
  const rows = await query<{ k: string; hlc: string; origin_region: string; tombstone: StoredVersion['tombstone'] }>(
    node,
    `SELECT ${key} AS k, hlc::text AS hlc, origin_region, tombstone FROM public.${table} WHERE ${where}`,
    values,
  );
  return new Map(rows.map((r) => [r.k, { key: r.k, hlc: BigInt(r.hlc), origin: r.origin_region, tombstone: r.tombstone }]));
}

/** Retries an assertion until it passes (replication is asynchronous) or the time is up. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
