import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileBodyStore } from '../src/lib/body-store';
import { readTar } from '../src/lib/csv-archive';
import { emailBlindIndex } from '../src/lib/blind-index';
import { replayRegionErasureLedger } from '../src/routes/privacy/erasure-ledger.store';
import { adminQuery, cluster, startRegionApp, type RegionApp } from '../../../test/support/regions';
import { backupOrg, restoreOrg, tracesOf } from './privacy-restore';

const REGION = 'eu-west-1';
const SUBJECT = { email: 'sam.subject@subject.example', fullName: 'Samantha Subjectova', phone: '+33 6 11 22 33 44' };
const OTHER = { email: 'olga.other@other.example', fullName: 'Olga Otherwoman' };

const traces = async (needle: string) => (await tracesOf([needle]))[needle]!;
const backup = (orgId: string) => backupOrg(REGION, orgId);
const restore = (orgId: string, copy: Record<string, unknown[]>) => restoreOrg(REGION, orgId, copy);

describe('data-subject requests (GDPR art. 15-20)', () => {
  let r: RegionApp;
  let orgId: string;
  let userId: string;
  let otherUserId: string;
  const dossierIds: string[] = [];
  let documentId: string;
  let otherDossier: string;
  /** Written by SQL (an import), so no audit event is about it. */
  let legacyDossier: string;
  const dpo = () => r.as(orgId, 'dpo');
  const admin = () => r.as(orgId, 'admin');

  beforeAll(async () => {
    r = await startRegionApp(REGION);
    orgId = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Privacy Estates', homeRegion: REGION } })).json().id;
    userId = (await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/users`, payload: { email: SUBJECT.email, fullName: SUBJECT.fullName, phone: SUBJECT.phone, role: 'agent' } })).json().id;
    otherUserId = (await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/users`, payload: { email: OTHER.email, fullName: OTHER.fullName, role: 'agent' } })).json().id;
    await r.as(orgId, 'agent', userId).inject({ method: 'PUT', url: `/api/users/${userId}/preferences`, payload: { locale: 'fr-FR', timezone: 'Europe/Paris' } });
    for (const title of ['Sale of Samantha\'s flat', 'Samantha buys a house']) {
      const d = (await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: `case ${dossierIds.length}`, clientName: SUBJECT.fullName, clientEmail: SUBJECT.email.toUpperCase(), clientPhone: SUBJECT.phone, description: title } })).json();
      dossierIds.push(d.id);
      await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/activities`, payload: { kind: 'call', subject: `Called ${SUBJECT.fullName}`, dossierId: d.id } });
    }
    // A dossier from before addresses were validated (an import): the same address, padded and
    // in another case. The API no longer accepts it on write; the subject lookup must still find it.
    const legacy = await adminQuery(
      REGION,
      "INSERT INTO dossier (org_id, title, client_name, client_email) VALUES ($1, 'imported case', $2, $3) RETURNING id",
      [orgId, SUBJECT.fullName, `  ${SUBJECT.email.toUpperCase()}\t `],
    );
    legacyDossier = legacy[0]!.id;
    dossierIds.push(legacyDossier);
    await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/activities`, payload: { kind: 'note', subject: `Imported note on ${SUBJECT.fullName}`, dossierId: legacy[0]!.id } });
    documentId = (await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/documents`, payload: { filename: 'samantha-id.pdf', dossierId: dossierIds[0] } })).json().id;
    const up = await admin().inject({ method: 'PUT', url: `/api/orgs/${orgId}/documents/${documentId}/content`, payload: Buffer.from(`passport of ${SUBJECT.fullName}`), headers: { 'content-type': 'application/pdf' } });
    expect(up.statusCode).toBe(200);
    otherDossier = (await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: 'other case', clientName: OTHER.fullName, clientEmail: OTHER.email } })).json().id;
    await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/activities`, payload: { kind: 'note', subject: `Note on ${OTHER.fullName}`, dossierId: otherDossier } });
  });
  afterAll(() => r.close());

  it('exports exactly the subject\'s rows of every table (JSON and a CSV archive), and no other subject', async () => {
    // Asked for as a colleague typed it: another case, white space around.
    const res = await dpo().inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'access', subject: { email: ` ${SUBJECT.email.replace('sam', 'SAM')}  ` } } });
    expect(res.statusCode).toBe(201);
    const req = res.json();
    expect(req).toMatchObject({ type: 'access', status: 'completed', subjectUserId: userId, subjectRef: emailBlindIndex(cluster().secrets.blindIndexKey, SUBJECT.email) });
    const due = new Date(req.dueAt).getTime() - new Date(req.receivedAt).getTime();
    expect(due / 86_400_000).toBeGreaterThanOrEqual(28);
    expect(due / 86_400_000).toBeLessThanOrEqual(31);

    const exported = (await dpo().inject({ method: 'GET', url: `/api/orgs/${orgId}/privacy/requests/${req.id}/export` })).json();
    const truth = {
      user_profile: (await adminQuery(REGION, 'SELECT user_id FROM user_profile WHERE org_id = $1 AND lower(email) = $2', [orgId, SUBJECT.email])).map((x) => x.user_id),
      app_user: [userId],
      user_preferences: [userId],
      // Every dossier of the organization whose client address is the subject's, compared here.
      dossier: (await adminQuery(REGION, 'SELECT id, client_email FROM dossier WHERE org_id = $1 ORDER BY id', [orgId]))
        .filter((x) => typeof x.client_email === 'string' && x.client_email.trim().toLowerCase() === SUBJECT.email)
        .map((x) => x.id),
      activity: (await adminQuery(REGION, 'SELECT id FROM activity WHERE dossier_id = ANY($1) ORDER BY id', [dossierIds])).map((x) => x.id),
      document: [documentId],
    };
    const ids = (t: string, key = 'id') => (exported.tables[t] as Array<Record<string, string>>).map((x) => x[key]);
    expect(ids('user_profile', 'userId')).toEqual(truth.user_profile);
    expect(ids('app_user')).toEqual(truth.app_user);
    expect(ids('user_preferences', 'userId')).toEqual(truth.user_preferences);
    expect(ids('dossier')).toEqual(truth.dossier);
    expect(ids('activity')).toEqual(truth.activity);
    expect(ids('document')).toEqual(truth.document);
    expect(truth.dossier).toHaveLength(3);
    expect(truth.activity).toHaveLength(3);
    const auditAbout = (exported.tables.audit_event as Array<{ entityId: string; action: string }>).map((e) => e.entityId);
    expect(auditAbout).toEqual(expect.arrayContaining([userId, ...dossierIds.filter((d) => d !== legacyDossier), documentId]));
    const text = JSON.stringify(exported);
    expect(text).toContain(SUBJECT.fullName);
    for (const foreign of [OTHER.email, OTHER.fullName, otherUserId, otherDossier]) expect(text).not.toContain(foreign);

    const tar = await dpo().inject({ method: 'GET', url: `/api/orgs/${orgId}/privacy/requests/${req.id}/export.tar` });
    expect(tar.headers['content-type']).toBe('application/x-tar');
    const files = readTar(tar.rawPayload);
    expect(files.map((f) => f.name)).toEqual(['user_profile.csv', 'app_user.csv', 'user_preferences.csv', 'dossier.csv', 'activity.csv', 'document.csv', 'audit_event.csv']);
    const dossierCsv = files.find((f) => f.name === 'dossier.csv')!.content.trim().split('\r\n');
    expect(dossierCsv).toHaveLength(1 + truth.dossier.length);
    expect(dossierCsv[0]).toContain('clientEmail');
    expect(files.map((f) => f.content).join('')).not.toContain(OTHER.email);
  });

  it('rectifies the subject\'s data, and restriction locks it (423) until lifted', async () => {
    const fix = await dpo().inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'rectification', subject: { userId }, changes: { phone: '+33 7 00 00 00 01' } } });
    expect(fix.statusCode).toBe(201);
    expect(await adminQuery(REGION, 'SELECT phone FROM user_profile WHERE user_id = $1', [userId])).toEqual([{ phone: '+33 7 00 00 00 01' }]);
    expect((await adminQuery(REGION, 'SELECT DISTINCT client_phone FROM dossier WHERE id = ANY($1)', [dossierIds]))).toEqual([{ client_phone: '+33 7 00 00 00 01' }]);

    const restrict = await dpo().inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'restriction', subject: { email: SUBJECT.email } } });
    expect(restrict.json().result.restricted).toBeGreaterThanOrEqual(5);
    const locked = await admin().inject({ method: 'PATCH', url: `/api/orgs/${orgId}/dossiers/${dossierIds[0]}`, payload: { status: 'won' } });
    expect(locked.statusCode).toBe(423);
    expect(locked.json().error.code).toBe('ATLAS_ERR_RESTRICTED');
    expect((await admin().inject({ method: 'PATCH', url: `/api/orgs/${orgId}/users/${userId}`, payload: { fullName: 'Changed' } })).statusCode).toBe(423);
    expect((await admin().inject({ method: 'DELETE', url: `/api/orgs/${orgId}/activities/${(await adminQuery(REGION, 'SELECT id FROM activity WHERE dossier_id = $1', [dossierIds[0]]))[0]!.id}` })).statusCode).toBe(423);
    // Reading stays possible; another subject's records are untouched by the restriction.
    expect((await admin().inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers/${dossierIds[0]}` })).statusCode).toBe(200);
    expect((await admin().inject({ method: 'PATCH', url: `/api/orgs/${orgId}/dossiers/${otherDossier}`, payload: { status: 'won' } })).statusCode).toBe(200);
    const lift = await dpo().inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'restriction', subject: { email: SUBJECT.email }, lift: true } });
    expect(lift.json().result.lifted).toBeGreaterThanOrEqual(5);
    expect((await admin().inject({ method: 'PATCH', url: `/api/orgs/${orgId}/dossiers/${dossierIds[0]}`, payload: { status: 'in_progress' } })).statusCode).toBe(200);
    // Restrict again: erasure must still go through.
    await dpo().inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'restriction', subject: { email: SUBJECT.email } } });
  });

  it('erases the subject everywhere, and a restore from an older backup followed by the ledger replay leaves no trace either', async () => {
    const docsRoot = (r.app.atlas.documents.bodies as FileBodyStore).root;
    const backupDir = join(cluster().home, 'backup-privacy');
    const before = await backup(orgId);
    await cp(join(docsRoot, orgId), join(backupDir, orgId), { recursive: true });
    expect(await traces(SUBJECT.email)).toContain(`${REGION}/dossier`);
    // Warm the cache with the subject's global rows.
    expect((await r.as(orgId, 'agent', userId).inject({ method: 'GET', url: `/api/users/${userId}/preferences` })).json().locale).toBe('fr-FR');

    const res = await dpo().inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'erasure', subject: { email: SUBJECT.email } } });
    expect(res.statusCode).toBe(201);
    expect(res.json().result.erased).toMatchObject({ userProfiles: 1, appUsers: 1, preferences: 1, dossiersMasked: 3, activities: 3, documents: 1 });

    const noTrace = async () => {
      const needles = [SUBJECT.email, SUBJECT.fullName, 'Samantha', '11 22 33 44', '7 00 00 00 01', 'samantha-id.pdf'];
      expect(await tracesOf(needles)).toEqual(Object.fromEntries(needles.map((n) => [n, []])));
      // The pseudonymous id stays where it must: the ledger, the request log, the audit trail.
      const ref = emailBlindIndex(cluster().secrets.blindIndexKey, SUBJECT.email);
      expect((await traces(ref)).sort()).toEqual([`${REGION}/audit_event`, `${REGION}/erasure_ledger`, `${REGION}/privacy_request`]);
      expect(await adminQuery(REGION, 'SELECT tombstone, email_hash FROM app_user WHERE id = $1', [userId])).toEqual([{ tombstone: 'erased', email_hash: '0'.repeat(64) }]);
      expect(await adminQuery(REGION, 'SELECT tombstone, locale FROM user_preferences WHERE user_id = $1', [userId])).toEqual([{ tombstone: 'erased', locale: 'en' }]);
      const files = await readdir(join(docsRoot, orgId)).catch(() => [] as string[]);
      expect(files.filter((f) => f.startsWith(documentId))).toEqual([]);
    };
    await noTrace();
    // The cache no longer holds the subject, and the subject's token no longer works.
    expect(await r.app.atlas.cache.store.get(`user_preferences:${userId}`)).toBeUndefined();
    expect((await r.as(orgId, 'agent', userId).inject({ method: 'GET', url: `/api/users/${userId}/preferences` })).statusCode).toBe(401);
    // Earlier exports of the subject are gone too.
    const requests = (await dpo().inject({ method: 'GET', url: `/api/orgs/${orgId}/privacy/requests` })).json().items as Array<{ id: string; type: string }>;
    const access = requests.find((x) => x.type === 'access')!;
    expect((await dpo().inject({ method: 'GET', url: `/api/orgs/${orgId}/privacy/requests/${access.id}/export` })).statusCode).toBe(404);
    // The other subject is intact.
    expect(await adminQuery(REGION, 'SELECT client_email FROM dossier WHERE id = $1', [otherDossier])).toEqual([{ client_email: OTHER.email }]);

    // Disaster: the region is restored from the backup taken before the erasure (rows and
    // document bodies, including the ledger table as it was then).
    await restore(orgId, before);
    await cp(join(backupDir, orgId), join(docsRoot, orgId), { recursive: true });
    expect(await traces(SUBJECT.email)).toContain(`${REGION}/dossier`);
    expect(await adminQuery(REGION, 'SELECT count(*)::int AS n FROM erasure_ledger WHERE org_id = $1', [orgId])).toEqual([{ n: 0 }]);

    // The local cluster's ledger copy is the file under ATLAS_HOME; bodies go through the region's body store (its folder).
    const report = await replayRegionErasureLedger(r.app.atlas.config, cluster().databases[REGION]!.adminUrl);
    expect(report.location).toBe(`file://${join(cluster().home, REGION, 'erasure-ledger.jsonl')}`);
    expect(report.unreadable).toEqual([]);
    expect(report.imported).toBeGreaterThanOrEqual(1);
    expect(report.rowsErased).toBeGreaterThan(0);
    await noTrace();
    await rm(backupDir, { recursive: true, force: true });
  });

  it('refuses a request for a subject of another organization and one filed in the wrong region', async () => {
    const other = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Elsewhere', homeRegion: REGION } })).json().id;
    const res = await r.as(other, 'dpo').inject({ method: 'POST', url: `/api/orgs/${other}/privacy/requests`, payload: { type: 'access', subject: { userId: otherUserId } } });
    expect(res.statusCode).toBe(404);
    const us = await startRegionApp('us-east-1');
    try {
      const wrong = await us.as(orgId, 'dpo').inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'access', subject: { userId } } });
      expect(wrong.statusCode).toBe(421);
      expect(wrong.headers['atlas-region']).toBe(REGION);
    } finally {
      await us.close();
    }
  });
});
