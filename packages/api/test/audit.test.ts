import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, loadOrCreateSecrets, verifyAuditTrail, writeAuditCheckpoint, type Ed25519Jwk } from '@atlas/db';
import { auditVerify } from '../../cli/src/commands/audit';
import { buildApp } from '@atlas/api';
import { adminQuery, apiConfig, appQuery, cluster, regionApp, startRegionApp, type RegionApp } from '../../../test/support/regions';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';

describe('audit trail in the shared cluster', () => {
  let r: RegionApp;
  let orgId: string;

  beforeAll(async () => {
    r = await startRegionApp('eu-west-1');
    orgId = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Audited', homeRegion: 'eu-west-1' } })).json().id;
  });
  afterAll(() => r.close());

  it('records reads and writes of personal data with who, what, which record, where from and outcome', async () => {
    const api = r.as(orgId, 'agent');
    const d = (await api.inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: 'Audited dossier', clientEmail: 'p@q.example' }, remoteAddress: '198.51.100.7' })).json();
    await api.inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers/${d.id}`, headers: { 'x-request-id': 'read-1' } });
    await api.inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers` });
    const rows = await adminQuery('eu-west-1', 'SELECT actor, action, entity, entity_id, outcome, source_ip, request_id, seq, length(hash) AS h FROM audit_event WHERE org_id = $1 ORDER BY seq', [orgId]);
    expect(rows.map((e) => [e.action, e.entity, e.entity_id])).toEqual([
      ['create', 'dossier', d.id],
      ['read', 'dossier', d.id],
      ['list', 'dossier', null],
    ]);
    expect(rows[0]).toMatchObject({ actor: expect.stringMatching(/^usr_/), outcome: 'success', source_ip: '198.51.100.7', h: 64 });
    expect(rows[1]!.request_id).toBe('read-1');
  });

  it('is append-only for the application role', async () => {
    await expect(appQuery('eu-west-1', "UPDATE audit_event SET actor = 'x'")).rejects.toThrow(/permission denied/);
    await expect(appQuery('eu-west-1', 'DELETE FROM audit_event')).rejects.toThrow(/permission denied/);
    await expect(appQuery('eu-west-1', 'TRUNCATE audit_event')).rejects.toThrow(/permission denied/);
    await expect(appQuery('eu-west-1', 'UPDATE audit_chain_head SET seq = 0')).rejects.toThrow(/permission denied/);
    // A client cannot choose the chain fields either: the trigger overwrites them.
    const client = new pg.Client({ connectionString: cluster().databases['eu-west-1']!.appUrl });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('atlas.org_id', $1, true)", [orgId]);
      const { rows } = await client.query("INSERT INTO audit_event (org_id, actor, action, entity, seq, prev_hash, hash, at) VALUES ($1, 'me', 'forge', 'x', 1, 'f', 'f', '2000-01-01') RETURNING seq, hash, at", [orgId]);
      await client.query('ROLLBACK');
      expect(rows[0].seq).not.toBe('1');
      expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
      expect(new Date(rows[0].at).getFullYear()).toBeGreaterThan(2000);
    } finally {
      await client.end();
    }
  });

  it('verifies the region chain through the API (admin or dpo)', async () => {
    const res = await r.as(orgId, 'dpo').inject({ method: 'GET', url: `/api/orgs/${orgId}/audit/verify` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ region: 'eu-west-1', ok: true, broken: null });
    expect(res.json().checked).toBeGreaterThan(2);
    expect((await r.as(orgId, 'agent').inject({ method: 'GET', url: `/api/orgs/${orgId}/audit/verify` })).statusCode).toBe(403);
  });
});

describe('audit chain tampering (a fresh region, so no other suite is disturbed)', () => {
  let fresh: FreshRegions;
  let r: RegionApp;
  let orgId: string;
  let admin: pg.Client;
  // The fresh home's own audit key, so that `atlas audit verify` (which reads the home's
  // secrets) checks the same checkpoints the API signs.
  let auditKey: Ed25519Jwk;
  const key = () => auditKey;
  /** `atlas audit verify --json` on the fresh home: exit code and report. */
  const cliVerify = async () => {
    const lines: string[] = [];
    const code = await auditVerify({ home: fresh.home, topology: fresh.topology, json: true, log: (l) => lines.push(l) });
    return { code, report: JSON.parse(lines.join('\n')) as { ok: boolean; regions: Array<{ region: string; ok: boolean; broken?: { seq: number; id: string | null; reason: string } }> } };
  };

  beforeAll(async () => {
    fresh = await startFreshRegions(1, { prefix: 'atlas-audit-' });
    auditKey = (await loadOrCreateSecrets(fresh.home, ['eu-west-1'])).auditSigningKey;
    const base = apiConfig('eu-west-1');
    const config = { ...base, databaseUrl: fresh.databases[0]!.appUrl, cacheStreamUrl: fresh.databases[0]!.cacheStreamUrl, home: fresh.home, security: { ...base.security, auditSigningKey: auditKey } };
    const db = createDb(config.databaseUrl, { max: 3 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    r = regionApp('eu-west-1', app, db);
    orgId = (await app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Tamper', homeRegion: 'eu-west-1' } })).json().id;
    for (let i = 0; i < 6; i++) await r.as(orgId).inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: `d${i}` } });
    admin = new pg.Client({ connectionString: fresh.databases[0]!.adminUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await r.close();
    await fresh.stop();
  });

  const event = async (seq: number) => (await admin.query('SELECT * FROM audit_event WHERE seq = $1', [seq])).rows[0];
  /** As a superuser would: the append-only guard switched off around the change. */
  const asSuperuser = async (statement: string, values: unknown[] = []) => {
    await admin.query('BEGIN');
    await admin.query('ALTER TABLE audit_event DISABLE TRIGGER atlas_audit_immutable');
    await admin.query(statement, values);
    await admin.query('ALTER TABLE audit_event ENABLE TRIGGER atlas_audit_immutable');
    await admin.query('COMMIT');
  };

  it('verifies an untouched chain and signs checkpoints of its head', async () => {
    const cp = await writeAuditCheckpoint(r.db.db, key());
    expect(cp).toMatchObject({ region: 'eu-west-1', seq: 6 });
    expect(await writeAuditCheckpoint(r.db.db, key())).toBeUndefined();
    expect(await verifyAuditTrail(r.db.db, key())).toEqual({ checked: 6, ok: true, checkpoints: 1 });
  });

  it('names the exact row a superuser altered, and passes again once it is put back', async () => {
    const third = await event(3);
    await asSuperuser("UPDATE audit_event SET actor = 'someone-else' WHERE seq = 3");
    const report = await verifyAuditTrail(r.db.db, key());
    expect(report).toMatchObject({ ok: false, broken: { seq: 3, id: third.id, reason: expect.stringMatching(/altered/) } });
    const api = await r.as(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/audit/verify` });
    expect(api.json()).toMatchObject({ ok: false, broken: { seq: 3, id: third.id } });
    await asSuperuser('UPDATE audit_event SET actor = $1 WHERE seq = 3', [third.actor]);
    expect((await verifyAuditTrail(r.db.db, key())).ok).toBe(true);
  });

  it('names the exact read event a superuser altered, written by the read-audit group commit', async () => {
    const dossier = (await r.as(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers?limit=1` })).json().items[0];
    const reads = await Promise.all(
      Array.from({ length: 8 }, (_, i) => r.as(orgId, 'viewer').inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers/${dossier.id}`, headers: { 'x-request-id': `tamper-read-${i}` } })),
    );
    expect(reads.every((res) => res.statusCode === 200)).toBe(true);
    const target = (await admin.query("SELECT * FROM audit_event WHERE request_id = 'tamper-read-5'")).rows[0];
    expect(target).toMatchObject({ action: 'read', entity_id: dossier.id });
    await asSuperuser("UPDATE audit_event SET source_ip = '203.0.113.99' WHERE id = $1", [target.id]);
    const report = await verifyAuditTrail(r.db.db, key());
    expect(report).toMatchObject({ ok: false, broken: { seq: Number(target.seq), id: target.id, reason: expect.stringMatching(/altered/) } });
    const api = await r.as(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/audit/verify` });
    expect(api.json()).toMatchObject({ ok: false, broken: { seq: Number(target.seq), id: target.id } });
    const cli = await cliVerify();
    expect(cli.code).toBe(1);
    expect(cli.report.regions[0]).toMatchObject({ region: 'eu-west-1', ok: false, broken: { seq: Number(target.seq), id: target.id, reason: expect.stringMatching(/altered/) } });
    await asSuperuser('UPDATE audit_event SET source_ip = $1 WHERE id = $2', [target.source_ip, target.id]);
    expect((await verifyAuditTrail(r.db.db, key())).ok).toBe(true);
    expect(await cliVerify()).toMatchObject({ code: 0, report: { ok: true } });
  });

  it('names the missing link when a superuser deletes an event', async () => {
    const fifth = await event(5);
    await admin.query('CREATE TEMP TABLE saved_event AS SELECT * FROM audit_event WHERE seq = 4');
    await asSuperuser('DELETE FROM audit_event WHERE seq = 4');
    const report = await verifyAuditTrail(r.db.db, key());
    expect(report).toMatchObject({ ok: false, broken: { seq: 4, id: fifth.id, reason: expect.stringMatching(/missing link/) } });
    await admin.query('ALTER TABLE audit_event DISABLE TRIGGER atlas_zz_audit_chain');
    await admin.query('INSERT INTO audit_event SELECT * FROM saved_event');
    await admin.query('ALTER TABLE audit_event ENABLE TRIGGER atlas_zz_audit_chain');
    expect((await verifyAuditTrail(r.db.db, key())).ok).toBe(true);
  });

  it('catches a rewrite that recomputed every hash, through the signed checkpoint', async () => {
    await asSuperuser(`DO $$
      DECLARE e audit_event; prev text;
      BEGIN
        UPDATE audit_event SET actor = 'rewritten' WHERE seq = 2;
        FOR e IN SELECT * FROM audit_event WHERE seq >= 2 ORDER BY seq LOOP
          SELECT hash INTO prev FROM audit_event WHERE seq = e.seq - 1;
          e.prev_hash := prev;
          UPDATE audit_event SET prev_hash = prev, hash = atlas_audit_hash(e) WHERE seq = e.seq;
        END LOOP;
        UPDATE audit_chain_head SET hash = (SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1);
      END $$`);
    const report = await verifyAuditTrail(r.db.db, key());
    expect(report.broken).toBeUndefined();
    expect(report).toMatchObject({ ok: false, badCheckpoint: { seq: 6, reason: expect.stringMatching(/no longer has the signed hash/) } });
  });
});
