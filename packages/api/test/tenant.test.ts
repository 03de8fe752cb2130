import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, cluster, startRegionApp, type RegionApp } from '../../../test/support/regions';

const TENANT_TABLES = ['dossier', 'annonce', 'document', 'activity', 'user_profile', 'audit_event', 'app_user', 'user_preferences', 'privacy_request', 'erasure_ledger'];

/** Tenant isolation in PostgreSQL itself: what the API's role sees with no, the wrong or the right tenant. */
describe('row-level security for the application role', () => {
  let r: RegionApp;
  let mine: string;
  let theirs: string;
  let client: pg.Client;

  beforeAll(async () => {
    r = await startRegionApp('ap-southeast-1');
    mine = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Mine', homeRegion: 'ap-southeast-1' } })).json().id;
    theirs = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Theirs', homeRegion: 'ap-southeast-1' } })).json().id;
    for (const org of [mine, theirs]) {
      const api = r.as(org);
      const created = await api.inject({ method: 'POST', url: `/api/orgs/${org}/dossiers`, payload: { title: `dossier of ${org}`, clientEmail: `client@${org.slice(-8)}.example` } });
      expect(created.statusCode).toBe(201);
      const d = created.json();
      await api.inject({ method: 'POST', url: `/api/orgs/${org}/annonces`, payload: { title: `listing of ${org}`, dossierId: d.id } });
      await api.inject({ method: 'POST', url: `/api/orgs/${org}/activities`, payload: { kind: 'note', subject: `note of ${org}`, dossierId: d.id } });
      await api.inject({ method: 'POST', url: `/api/orgs/${org}/documents`, payload: { filename: 'a.pdf', dossierId: d.id } });
      const u = (await api.inject({ method: 'POST', url: `/api/orgs/${org}/users`, payload: { email: `user@${org.slice(-8)}.example`, fullName: 'U', role: 'agent' } })).json();
      await r.as(org, 'agent', u.id).inject({ method: 'PUT', url: `/api/users/${u.id}/preferences`, payload: { theme: 'dark' } });
      await r.as(org, 'dpo').inject({ method: 'POST', url: `/api/orgs/${org}/privacy/requests`, payload: { type: 'access', subject: { email: `client@${org.slice(-8)}.example` } } });
    }
    client = new pg.Client({ connectionString: cluster().databases['ap-southeast-1']!.appUrl });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await r.close();
  });

  const countAs = async (tenant: string | null, table: string, org: string): Promise<number> => {
    await client.query('BEGIN');
    try {
      if (tenant !== null) await client.query("SELECT set_config('atlas.org_id', $1, true)", [tenant]);
      const key = table === 'user_preferences' ? 'user_id IN (SELECT id FROM app_user WHERE org_id = $1)' : 'org_id = $1';
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${key}`, [org]);
      return rows[0].n as number;
    } finally {
      await client.query('COMMIT');
    }
  };

  it('holds rows of both tenants in every tenant table (ground truth as the superuser)', async () => {
    for (const table of TENANT_TABLES.filter((t) => t !== 'erasure_ledger' && t !== 'user_preferences')) {
      for (const org of [mine, theirs]) {
        const [row] = await adminQuery('ap-southeast-1', `SELECT count(*)::int AS n FROM ${table} WHERE org_id = $1`, [org]);
        expect(row!.n, `${table} of ${org}`).toBeGreaterThan(0);
      }
    }
  });

  it.each(TENANT_TABLES)('%s: no tenant set → no rows; the wrong tenant → none of theirs; the right one → theirs', async (table) => {
    const truth = table === 'erasure_ledger' ? 0 : 1;
    expect(await countAs(null, table, theirs)).toBe(0);
    expect(await countAs(mine, table, theirs)).toBe(0);
    expect(await countAs(theirs, table, theirs)).toBeGreaterThanOrEqual(truth);
  });

  it('keeps the tenant for one transaction only: the next one on the same connection sees nothing', async () => {
    await client.query('BEGIN');
    await client.query("SELECT set_config('atlas.org_id', $1, true)", [theirs]);
    expect((await client.query('SELECT count(*)::int AS n FROM dossier')).rows[0].n).toBeGreaterThan(0);
    await client.query('COMMIT');
    expect((await client.query("SELECT current_setting('atlas.org_id', true) AS t")).rows[0].t).toBe('');
    expect((await client.query('SELECT count(*)::int AS n FROM dossier')).rows[0].n).toBe(0);
  });

  it('refuses to write or change another tenant\'s rows under the wrong tenant', async () => {
    await client.query('BEGIN');
    await client.query("SELECT set_config('atlas.org_id', $1, true)", [mine]);
    await expect(client.query("INSERT INTO dossier (org_id, title) VALUES ($1, 'planted')", [theirs])).rejects.toThrow(/row-level security/);
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    await client.query("SELECT set_config('atlas.org_id', $1, true)", [mine]);
    const updated = await client.query("UPDATE dossier SET title = 'hijacked' WHERE org_id = $1", [theirs]);
    const deleted = await client.query('DELETE FROM activity WHERE org_id = $1', [theirs]);
    await client.query('COMMIT');
    expect([updated.rowCount, deleted.rowCount]).toEqual([0, 0]);
    expect(await adminQuery('ap-southeast-1', "SELECT count(*)::int AS n FROM dossier WHERE title = 'hijacked'")).toEqual([{ n: 0 }]);
  });

  it('runs the API as a role that owns nothing, has no BYPASSRLS, and meets FORCED row-level security', async () => {
    const [role] = await adminQuery('ap-southeast-1', "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'atlas_app'");
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false });
    const owned = await adminQuery('ap-southeast-1', "SELECT relname FROM pg_class WHERE relowner = 'atlas_app'::regrole");
    expect(owned).toEqual([]);
    const tables = await adminQuery('ap-southeast-1', 'SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY($1) ORDER BY relname', [TENANT_TABLES]);
    expect(tables).toHaveLength(TENANT_TABLES.length);
    for (const t of tables) expect(t, t.relname).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
  });

  it('still lets the superuser (migrations, replication apply, operator tools) see every tenant', async () => {
    const [row] = await adminQuery('ap-southeast-1', 'SELECT count(DISTINCT org_id)::int AS n FROM dossier WHERE org_id = ANY($1)', [[mine, theirs]]);
    expect(row!.n).toBe(2);
  });
});
