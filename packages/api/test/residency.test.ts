import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, appQuery, startRegionApp, type RegionApp } from '../../../test/support/regions';

describe('residency (rule R1)', () => {
  let eu: RegionApp;
  let us: RegionApp;
  let ap: RegionApp;
  let euOrg: string;
  let dossierId: string;

  beforeAll(async () => {
    [eu, us, ap] = await Promise.all([startRegionApp('eu-west-1'), startRegionApp('us-east-1'), startRegionApp('ap-southeast-1')]);
    euOrg = (await eu.authed().inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Paris Homes', homeRegion: 'eu-west-1' } })).json().id;
    const res = await eu.authed().inject({
      method: 'POST',
      url: `/api/orgs/${euOrg}/dossiers`,
      payload: { title: 'EU-only dossier', clientName: 'Marie Curie', clientEmail: 'marie@example.eu' },
    });
    expect(res.statusCode).toBe(201);
    dossierId = res.json().id;
  });
  afterAll(async () => Promise.all([eu.close(), us.close(), ap.close()]));

  it('serves an EU dossier in the EU', async () => {
    const res = await eu.authed().inject({ method: 'GET', url: `/api/orgs/${euOrg}/dossiers/${dossierId}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ region: 'eu-west-1', title: 'EU-only dossier' });
  });

  it('stores the EU dossier in no other region\'s database', async () => {
    for (const region of ['us-east-1', 'ap-southeast-1']) {
      for (const table of ['dossier', 'annonce', 'activity', 'document', 'user_profile', 'audit_event']) {
        const rows = await adminQuery(region, `SELECT count(*)::int AS n FROM ${table} WHERE org_id = $1`, [euOrg]);
        expect(rows[0]!.n, `${table} in ${region}`).toBe(0);
      }
      const byId = await adminQuery(region, 'SELECT count(*)::int AS n FROM dossier WHERE id = $1', [dossierId]);
      expect(byId[0]!.n).toBe(0);
    }
    const home = await adminQuery('eu-west-1', 'SELECT region, client_email FROM dossier WHERE id = $1', [dossierId]);
    expect(home).toEqual([{ region: 'eu-west-1', client_email: 'marie@example.eu' }]);
  });

  it.each(['us-east-1', 'ap-southeast-1'] as const)('answers 421 naming eu-west-1 when %s is asked for EU data', async (region) => {
    const app = region === 'us-east-1' ? us : ap;
    for (const [method, url, payload] of [
      ['GET', `/api/orgs/${euOrg}/dossiers/${dossierId}`, undefined],
      ['GET', `/api/orgs/${euOrg}/dossiers`, undefined],
      ['POST', `/api/orgs/${euOrg}/dossiers`, { title: 'smuggled' }],
      ['POST', `/api/orgs/${euOrg}/dossiers`, '{not json'],
      ['GET', `/api/orgs/${euOrg}/users`, undefined],
      ['PUT', `/api/orgs/${euOrg}/documents/${dossierId}/content`, 'bytes'],
      ['GET', `/api/orgs/${euOrg}/audit-events`, undefined],
    ] as const) {
      const res = await app.authed().inject({ method, url, payload, headers: payload ? { 'content-type': 'application/json' } : {} });
      expect(res.statusCode, `${method} ${url}`).toBe(421);
      expect(res.headers['atlas-region']).toBe('eu-west-1');
      expect(res.json().error.code).toBe('ATLAS_ERR_WRONG_REGION');
    }
    const rows = await adminQuery(region, "SELECT count(*)::int AS n FROM dossier WHERE title = 'smuggled'");
    expect(rows[0]!.n).toBe(0);
    const metrics = await app.authed().inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/atlas_wrong_region_requests_total\{region="[a-z0-9-]+",home_region="eu-west-1"[^}]*\} [1-9]/);
  });

  it('serves the EU organization row itself (global data) in every region once it is there', async () => {
    // Without replication (a later layer) the row exists only where it was written.
    const res = await eu.authed().inject({ method: 'GET', url: `/api/orgs/${euOrg}` });
    expect(res.json().homeRegion).toBe('eu-west-1');
  });

  it('refuses a direct SQL insert of a foreign-region row, even from the application role', async () => {
    await expect(
      appQuery('us-east-1', "INSERT INTO dossier (org_id, title, region) VALUES ($1, 'direct', 'eu-west-1')", [euOrg]),
    ).rejects.toThrow(/residency violation/);
    await expect(appQuery('us-east-1', "INSERT INTO dossier (org_id, title) VALUES ($1, 'direct')", [euOrg])).rejects.toThrow(/residency violation/);
    await expect(
      adminQuery('ap-southeast-1', "INSERT INTO user_profile (user_id, org_id, email, full_name) VALUES ('u1', $1, 'a@b.c', 'A')", [euOrg]),
    ).rejects.toThrow(/residency violation/);
    const euDossier = await adminQuery('eu-west-1', 'SELECT id FROM dossier WHERE id = $1', [dossierId]);
    await expect(adminQuery('eu-west-1', "UPDATE dossier SET region = 'us-east-1' WHERE id = $1", [euDossier[0]!.id])).rejects.toThrow(/residency violation/);
    const rows = await adminQuery('us-east-1', "SELECT count(*)::int AS n FROM dossier WHERE title = 'direct'");
    expect(rows[0]!.n).toBe(0);
  });

  it('does not let the application role rewrite the cluster\'s region or the audit trail', async () => {
    await expect(appQuery('us-east-1', "UPDATE atlas_cluster SET region = 'eu-west-1'")).rejects.toThrow(/permission denied/);
    await expect(appQuery('eu-west-1', 'DELETE FROM audit_event')).rejects.toThrow(/permission denied/);
    await expect(appQuery('eu-west-1', "UPDATE audit_event SET actor = 'x'")).rejects.toThrow(/permission denied/);
  });
});
