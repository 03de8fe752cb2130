import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, publicJwk, verifyAuditChain } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { securityConfigFromEnv } from '../src/security/security-config';
import { adminQuery, apiConfig, cluster, regionApp, type RegionApp } from '../../../test/support/regions';

/** A counter or histogram sample from the app's Prometheus text. */
async function metric(r: RegionApp, line: RegExp): Promise<number> {
  const text = (await r.app.inject({ method: 'GET', url: '/metrics' })).body;
  return text
    .split('\n')
    .filter((l) => line.test(l))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function appWith(queueMax: number, batchMax: number): Promise<RegionApp> {
  const base = apiConfig('eu-west-1');
  const config = { ...base, security: { ...base.security, auditQueueMax: queueMax, auditBatchMax: batchMax } };
  const db = createDb(config.databaseUrl, { max: 5 });
  const app = await buildApp(config, db, { logger: false });
  await app.ready();
  return regionApp('eu-west-1', app, db);
}

describe('read audits through the group commit', () => {
  let r: RegionApp;
  let orgId: string;
  let dossierId: string;

  beforeAll(async () => {
    r = await appWith(5000, 200);
    orgId = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Batched reads', homeRegion: 'eu-west-1' } })).json().id;
    dossierId = (await r.as(orgId, 'agent').inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: 'Read often', clientEmail: 'often@q.example' } })).json().id;
  });
  afterAll(() => r.close());

  it('answers a read only once its audit event is committed, and commits concurrent reads together', async () => {
    const n = 40;
    const batchesBefore = await metric(r, /^atlas_audit_read_batch_events_count\{/);
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        r.as(orgId, 'viewer').inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers/${dossierId}`, headers: { 'x-request-id': `batch-read-${i}` } }),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(Array(n).fill(200));
    // Every answered read has its event: nothing was pending once the answers were out.
    const rows = await adminQuery('eu-west-1', "SELECT request_id, actor, action, entity_id FROM audit_event WHERE org_id = $1 AND request_id LIKE 'batch-read-%'", [orgId]);
    expect(rows).toHaveLength(n);
    expect(new Set(rows.map((e) => e.request_id)).size).toBe(n);
    expect(rows.every((e) => e.action === 'read' && e.entity_id === dossierId && /^usr_/.test(e.actor))).toBe(true);
    const batches = (await metric(r, /^atlas_audit_read_batch_events_count\{/)) - batchesBefore;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(n);
    expect(await verifyAuditChain(r.db.db)).toMatchObject({ ok: true });
  });

  it('keeps one transaction per batch even when the batch spans organizations (each under its own tenant)', async () => {
    const other = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Batched reads 2', homeRegion: 'eu-west-1' } })).json().id as string;
    const otherDossier = (await r.as(other, 'agent').inject({ method: 'POST', url: `/api/orgs/${other}/dossiers`, payload: { title: 'Other' } })).json().id;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const [org, id] = i % 2 === 0 ? [orgId, dossierId] : [other, otherDossier];
        return r.as(org, 'viewer').inject({ method: 'GET', url: `/api/orgs/${org}/dossiers/${id}`, headers: { 'x-request-id': `mixed-read-${i}` } });
      }),
    );
    expect(answers.every((a) => a.statusCode === 200)).toBe(true);
    const rows = await adminQuery('eu-west-1', "SELECT org_id, request_id FROM audit_event WHERE request_id LIKE 'mixed-read-%'");
    expect(rows).toHaveLength(20);
    for (const e of rows) expect(e.org_id).toBe(Number(e.request_id.split('-').at(-1)) % 2 === 0 ? orgId : other);
  });
});

describe('read audits when the queue is full', () => {
  let r: RegionApp;
  let orgId: string;
  let dossierId: string;

  beforeAll(async () => {
    r = await appWith(2, 1);
    orgId = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Saturated', homeRegion: 'eu-west-1' } })).json().id;
    dossierId = (await r.as(orgId, 'agent').inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: 'Hot' } })).json().id;
  });
  afterAll(() => r.close());

  it('refuses the reads it cannot record (503 + Retry-After, counted), and serves none unaudited', async () => {
    const refusedBefore = await metric(r, /^atlas_audit_read_refused_total\{.*reason="queue_full"/);
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        r.as(orgId, 'viewer').inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers/${dossierId}`, headers: { 'x-request-id': `full-${i}` } }),
      ),
    );
    const served = answers.filter((a) => a.statusCode === 200);
    const refused = answers.filter((a) => a.statusCode === 503);
    expect(served.length + refused.length).toBe(30);
    expect(refused.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(0);
    for (const a of refused) {
      expect(a.headers['retry-after']).toBe('1');
      expect(a.json()).toMatchObject({ error: { code: 'ATLAS_ERR_REGION_UNAVAILABLE', message: expect.stringMatching(/audit/) } });
      expect(a.body).not.toContain(dossierId);
    }
    const rows = await adminQuery('eu-west-1', "SELECT request_id FROM audit_event WHERE org_id = $1 AND request_id LIKE 'full-%'", [orgId]);
    expect(rows.map((e) => e.request_id).sort()).toEqual(served.map((a) => a.headers['x-request-id']).sort());
    expect((await metric(r, /^atlas_audit_read_refused_total\{.*reason="queue_full"/)) - refusedBefore).toBe(refused.length);
  });
});

describe('read-audit queue settings', () => {
  const env = (extra: Record<string, string>) => ({
    ATLAS_AUTH_PUBLIC_KEY: JSON.stringify(publicJwk(cluster().secrets.authSigningKey)),
    ATLAS_AUDIT_SIGNING_KEY: JSON.stringify(cluster().secrets.auditSigningKey),
    ...extra,
  });

  it('reads ATLAS_AUDIT_QUEUE_MAX and ATLAS_AUDIT_BATCH_MAX, and stops start-up on a bad value by name', () => {
    expect(securityConfigFromEnv(env({}))).toMatchObject({ auditQueueMax: 5000, auditBatchMax: 200 });
    expect(securityConfigFromEnv(env({ ATLAS_AUDIT_QUEUE_MAX: '64', ATLAS_AUDIT_BATCH_MAX: '8' }))).toMatchObject({ auditQueueMax: 64, auditBatchMax: 8 });
    expect(() => securityConfigFromEnv(env({ ATLAS_AUDIT_QUEUE_MAX: '0' }))).toThrow(expect.objectContaining({ variable: 'ATLAS_AUDIT_QUEUE_MAX' }));
    expect(() => securityConfigFromEnv(env({ ATLAS_AUDIT_BATCH_MAX: 'many' }))).toThrow(expect.objectContaining({ variable: 'ATLAS_AUDIT_BATCH_MAX' }));
  });
});
