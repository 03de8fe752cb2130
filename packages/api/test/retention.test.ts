import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { adminQuery, apiConfig, regionApp, type RegionApp } from '../../../test/support/regions';

describe('retention purge', () => {
  let r: RegionApp;
  let orgId: string;

  beforeAll(async () => {
    const base = apiConfig('us-east-1');
    const config = { ...base, security: { ...base.security, retention: { dossierClosedDays: 365, activityDays: 730, documentDays: 30 } } };
    const db = createDb(config.databaseUrl, { max: 3 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    r = regionApp('us-east-1', app, db);
    orgId = (await app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Retention', homeRegion: 'us-east-1' } })).json().id;
  });
  afterAll(() => r.close());

  it('deletes what is past its period, keeps the rest and restricted records, and reports it', async () => {
    const api = r.as(orgId);
    const create = async (url: string, payload: Record<string, unknown>) => (await api.inject({ method: 'POST', url: `/api/orgs/${orgId}/${url}`, payload })).json().id as string;
    const oldClosed = await create('dossiers', { title: 'old closed', status: 'won' });
    const oldOpen = await create('dossiers', { title: 'old but open' });
    const recentClosed = await create('dossiers', { title: 'recent closed', status: 'lost' });
    const oldActivity = await create('activities', { kind: 'call', subject: 'long ago', occurredAt: '2020-01-01T00:00:00Z', dossierId: oldOpen });
    const newActivity = await create('activities', { kind: 'call', subject: 'yesterday', dossierId: oldOpen });
    const oldDoc = await create('documents', { filename: 'old.pdf' });
    await api.inject({ method: 'PUT', url: `/api/orgs/${orgId}/documents/${oldDoc}/content`, payload: Buffer.from('old'), headers: { 'content-type': 'application/pdf' } });
    const restricted = await create('dossiers', { title: 'restricted closed', status: 'closed' });
    await adminQuery('us-east-1', "UPDATE dossier SET updated_at = now() - interval '2 years' WHERE id = ANY($1)", [[oldClosed, oldOpen, restricted]]);
    await adminQuery('us-east-1', "UPDATE document SET created_at = now() - interval '40 days' WHERE id = $1", [oldDoc]);
    await adminQuery('us-east-1', 'UPDATE dossier SET restricted_at = now() WHERE id = $1', [restricted]);

    const res = await api.inject({ method: 'POST', url: `/api/orgs/${orgId}/retention/purge` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ region: 'us-east-1', totals: { dossier: 1, activity: 1, document: 1 }, organizations: [{ orgId, dossier: 1, activity: 1, document: 1 }] });
    const left = (await adminQuery('us-east-1', 'SELECT id FROM dossier WHERE org_id = $1', [orgId])).map((x) => x.id).sort();
    expect(left).toEqual([oldOpen, recentClosed, restricted].sort());
    expect((await adminQuery('us-east-1', 'SELECT id FROM activity WHERE org_id = $1', [orgId])).map((x) => x.id)).toEqual([newActivity]);
    expect(oldActivity).not.toBe(newActivity);
    expect(await r.app.atlas.documents.get(orgId, oldDoc)).toBeUndefined();
    const audit = await adminQuery('us-east-1', "SELECT actor, details FROM audit_event WHERE org_id = $1 AND action = 'purge'", [orgId]);
    expect(audit).toEqual([{ actor: 'system:retention', details: { dossier: 1, activity: 1, document: 1, privacyExport: 0 } }]);
    expect((await r.as(orgId, 'agent').inject({ method: 'POST', url: `/api/orgs/${orgId}/retention/purge` })).statusCode).toBe(403);
  });
});
