import pg from 'pg';
import { REGION_IDS, adminQuery, cluster } from '../../../test/support/regions';

/** Every text trace of each needle in every table of every region's database, as "region/table". */
export async function tracesOf(needles: readonly string[]): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = Object.fromEntries(needles.map((n) => [n, []]));
  for (const region of REGION_IDS) {
    const client = new pg.Client({ connectionString: cluster().databases[region]!.adminUrl });
    await client.connect();
    try {
      const { rows: tables } = await client.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
      for (const { t } of tables) {
        const { rows } = await client.query<{ n: string }>(`SELECT DISTINCT n FROM unnest($1::text[]) n JOIN "${t}" x ON x::text ILIKE '%' || n || '%'`, [needles]);
        for (const { n } of rows) found[n]!.push(`${region}/${t}`);
      }
    } finally {
      await client.end();
    }
  }
  return found;
}

/** A logical backup of one organization's rows in its home region (what COPY … TO would hold), and its restore. */
const BACKUP_TABLES = ['dossier', 'activity', 'document', 'user_profile', 'app_user', 'user_preferences', 'privacy_request', 'erasure_ledger'] as const;
const whereOrg = (t: string) => (t === 'user_preferences' ? 'user_id IN (SELECT id FROM app_user WHERE org_id = $1)' : 'org_id = $1');

export async function backupOrg(region: string, orgId: string): Promise<Record<string, unknown[]>> {
  const copy: Record<string, unknown[]> = {};
  for (const t of BACKUP_TABLES) copy[t] = (await adminQuery(region, `SELECT coalesce(json_agg(x), '[]') AS rows FROM ${t} x WHERE ${whereOrg(t)}`, [orgId]))[0]!.rows as unknown[];
  return copy;
}

export async function restoreOrg(region: string, orgId: string, copy: Record<string, unknown[]>): Promise<void> {
  // Children first out, parents first in; app_user rows are purged twice (a live row becomes a
  // tombstone on its first delete, migration 002).
  for (const t of ['activity', 'document', 'dossier', 'user_profile', 'user_preferences', 'privacy_request', 'erasure_ledger', 'app_user', 'app_user'] as const) {
    await adminQuery(region, `DELETE FROM ${t} WHERE ${whereOrg(t)}`, [orgId]);
  }
  for (const t of ['app_user', 'user_preferences', 'user_profile', 'dossier', 'activity', 'document', 'privacy_request', 'erasure_ledger'] as const) {
    await adminQuery(region, `INSERT INTO ${t} SELECT * FROM json_populate_recordset(NULL::${t}, $1)`, [JSON.stringify(copy[t])]);
  }
}
