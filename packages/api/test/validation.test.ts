import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileBodyStore } from '../src/lib/body-store';
import { adminQuery, startRegionApp, type RegionApp } from '../../../test/support/regions';

describe('bad input gets a 4xx with {error: {code, message}} and writes nothing', () => {
  let r: RegionApp;
  let orgId: string;
  const countDossiers = async () => (await adminQuery('us-east-1', 'SELECT count(*)::int AS n FROM dossier WHERE org_id = $1', [orgId]))[0]!.n as number;

  beforeAll(async () => {
    r = await startRegionApp('us-east-1');
    orgId = (await r.authed(orgId).inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Validation Realty', homeRegion: 'us-east-1' } })).json().id;
  });
  afterAll(() => r.close());

  const cases: Array<[string, { method: 'POST' | 'GET' | 'PATCH' | 'PUT'; url: (org: string) => string; payload?: unknown; headers?: Record<string, string> }, number, string]> = [
    ['malformed JSON', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: '{"title": ', headers: { 'content-type': 'application/json' } }, 400, 'ATLAS_ERR_BAD_JSON'],
    ['missing title', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: { description: 'x' } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['blank title', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: { title: '   ' } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['wrong type', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: { title: 42 } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['unknown status', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: { title: 't', status: 'lost-in-space' } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['mass assignment of region', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: { title: 't', region: 'eu-west-1' } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['mass assignment of orgId', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: { title: 't', orgId: 'org_euw1_aaaaaaaaaaaaaaaaaaaa' } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['oversize body', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: { title: 't', description: 'x'.repeat(300 * 1024) } }, 413, 'ATLAS_ERR_PAYLOAD_TOO_LARGE'],
    ['text body to a JSON route', { method: 'POST', url: (o) => `/api/orgs/${o}/dossiers`, payload: 'title=t', headers: { 'content-type': 'text/plain' } }, 415, 'ATLAS_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['limit above the maximum', { method: 'GET', url: (o) => `/api/orgs/${o}/dossiers?limit=5000` }, 400, 'ATLAS_ERR_VALIDATION'],
    ['limit zero', { method: 'GET', url: (o) => `/api/orgs/${o}/dossiers?limit=0` }, 400, 'ATLAS_ERR_VALIDATION'],
    ['forged cursor', { method: 'GET', url: (o) => `/api/orgs/${o}/dossiers?cursor=bm90LWEtdXVpZA` }, 400, 'ATLAS_ERR_VALIDATION'],
    ['unknown query parameter', { method: 'GET', url: (o) => `/api/orgs/${o}/dossiers?sort=evil` }, 400, 'ATLAS_ERR_VALIDATION'],
    ['malformed dossier id', { method: 'GET', url: (o) => `/api/orgs/${o}/dossiers/not-a-uuid` }, 400, 'ATLAS_ERR_VALIDATION'],
    ['unknown dossier id', { method: 'GET', url: (o) => `/api/orgs/${o}/dossiers/01a229ba-3fcb-79bc-9aa2-690649f1438e` }, 404, 'ATLAS_ERR_NOT_FOUND'],
    ['empty patch', { method: 'PATCH', url: (o) => `/api/orgs/${o}/dossiers/01a229ba-3fcb-79bc-9aa2-690649f1438e`, payload: {} }, 400, 'ATLAS_ERR_VALIDATION'],
    ['unknown organization', { method: 'GET', url: () => '/api/orgs/org_use1_zzzzzzzzzzzzzzzzzzzz/dossiers' }, 404, 'ATLAS_ERR_NOT_FOUND'],
    ['malformed organization id', { method: 'GET', url: () => '/api/orgs/acme/dossiers' }, 404, 'ATLAS_ERR_NOT_FOUND'],
    ['organization of an unknown region', { method: 'GET', url: () => '/api/orgs/org_mars1_zzzzzzzzzzzzzzzzzzzz/dossiers' }, 404, 'ATLAS_ERR_NOT_FOUND'],
    ['organization in an unknown region', { method: 'POST', url: () => '/api/orgs', payload: { name: 'Mars Estates', homeRegion: 'mars-north-1' } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['invalid e-mail', { method: 'POST', url: (o) => `/api/orgs/${o}/users`, payload: { email: 'not-an-email', fullName: 'X', role: 'agent' } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['unknown role', { method: 'POST', url: (o) => `/api/orgs/${o}/users`, payload: { email: 'a@b.co', fullName: 'X', role: 'god' } }, 400, 'ATLAS_ERR_VALIDATION'],
    ['unknown route', { method: 'GET', url: () => '/api/nothing-here' }, 404, 'ATLAS_ERR_NOT_FOUND'],
  ];

  it.each(cases)('%s', async (_name, req, status, code) => {
    const before = await countDossiers();
    const res = await r.authed(orgId).inject({ method: req.method, url: req.url(orgId), payload: req.payload as string, headers: req.headers });
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe('string');
    expect(body.error.message.length).toBeGreaterThan(3);
    expect(await countDossiers()).toBe(before);
  });

  it('names the unknown property in a mass-assignment error', async () => {
    const res = await r.authed(orgId).inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: 't', homeRegion: 'eu-west-1' } });
    expect(res.json().error.message).toContain('homeRegion');
  });

  it('refuses a document body for a document that does not exist, and keeps no file', async () => {
    const res = await r.authed(orgId).inject({
      method: 'PUT',
      url: `/api/orgs/${orgId}/documents/01a229ba-3fcb-79bc-9aa2-690649f1438e/content`,
      payload: Buffer.from('orphan'),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.statusCode).toBe(404);
    const { readdir } = await import('node:fs/promises');
    const files = await readdir(`${(r.app.atlas.documents.bodies as FileBodyStore).root}/${orgId}`).catch(() => []);
    expect(files).toEqual([]);
  });

  it('reports readiness with the migration head', async () => {
    const res = await r.authed(orgId).inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    const { headVersion } = await import('@atlas/db');
    expect(res.json()).toMatchObject({ ready: true, migration: { version: headVersion(), head: headVersion() } });
    expect(headVersion()).toBeGreaterThan(1);
  });
});
