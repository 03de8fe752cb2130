import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, publicJwk, replayErasureLedger } from '@atlas/db';
import { buildApp, type ApiConfig } from '@atlas/api';
import { emailBlindIndex } from '../src/lib/blind-index';
import { FileLedgerCopy, ledgerFileOf, replayRegionErasureLedger, S3LedgerCopy, type RecordedLedgerEntry } from '../src/routes/privacy/erasure-ledger.store';
import { S3TestServer, useTestCredentials } from '../../../test/support/s3-server';
import { adminQuery, apiConfig, cluster, regionApp, type RegionApp } from '../../../test/support/regions';
import { backupOrg, restoreOrg, tracesOf } from './privacy-restore';

const REGION = 'eu-west-1';
const BUCKET = 'atlas-test-euw1-ledger';
const ACCESS_KEY = 'AKIAATLASTESTKEY0002';
const LEDGER = `ledger/${REGION}/`;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The replay as an operator runs it after a restore: the one-off entry point with the region
 * API's environment (bucket included), in a process of its own.
 */
async function runReplayEntry(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(['PATH', 'HOME', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]!]));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'packages/api/src/routes/privacy/erasure-replay.main.ts'], { cwd: ROOT, env: { ...base, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface Person {
  readonly email: string;
  readonly fullName: string;
  dossierId?: string;
  documentId?: string;
}

describe('erasure ledger in the region\'s S3 bucket (ATLAS_DOCUMENTS_BUCKET)', () => {
  let s3: S3TestServer;
  /** The API task: its ATLAS_HOME is a private folder, lost when the task is replaced. */
  let r: RegionApp | undefined;
  let taskHome: string;
  let orgId: string;
  let restoreEnv: () => void = () => undefined;
  const adminUrl = () => cluster().databases[REGION]!.adminUrl;
  const api = () => r!;

  async function startTask(): Promise<ApiConfig> {
    taskHome = await mkdtemp(join(tmpdir(), 'atlas-ledger-task-'));
    const config: ApiConfig = { ...apiConfig(REGION), home: taskHome, documentsBucket: { bucket: BUCKET, region: REGION, endpoint: s3.endpoint, forcePathStyle: true } };
    const db = createDb(config.databaseUrl, { max: 5 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    r = regionApp(REGION, app, db);
    return config;
  }
  async function stopTask(): Promise<void> {
    await r?.close();
    r = undefined;
    await rm(taskHome, { recursive: true, force: true });
  }

  /** A client of the organization: a dossier, an activity and (withDocument) an uploaded document, all about them. */
  async function person(tag: string, withDocument: boolean): Promise<Person> {
    const p: Person = { email: `${tag}.ledger@subject.example`, fullName: `${tag[0]!.toUpperCase()}${tag.slice(1)} Ledgerova` };
    const admin = api().as(orgId, 'admin');
    p.dossierId = (await admin.inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: `case of ${p.fullName}`, clientName: p.fullName, clientEmail: p.email } })).json().id;
    await admin.inject({ method: 'POST', url: `/api/orgs/${orgId}/activities`, payload: { kind: 'call', subject: `Called ${p.fullName}`, dossierId: p.dossierId } });
    if (withDocument) {
      p.documentId = (await admin.inject({ method: 'POST', url: `/api/orgs/${orgId}/documents`, payload: { filename: `${tag}-passport.pdf`, dossierId: p.dossierId } })).json().id;
      const up = await admin.inject({ method: 'PUT', url: `/api/orgs/${orgId}/documents/${p.documentId}/content`, payload: Buffer.from(`passport of ${p.fullName}`), headers: { 'content-type': 'application/pdf' } });
      expect(up.statusCode).toBe(200);
    }
    return p;
  }
  const erase = (p: Person) => api().as(orgId, 'dpo').inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'erasure', subject: { email: p.email } } });
  const ledgerKeys = () => s3.keys(BUCKET).filter((k) => k.startsWith(LEDGER));
  const bodyKey = (p: Person) => `${REGION}/${orgId}/${p.documentId}.bin`;
  const ledgerRows = async (p: Person) => adminQuery(REGION, 'SELECT id FROM erasure_ledger WHERE org_id = $1 AND subject_ref = $2', [orgId, emailBlindIndex(cluster().secrets.blindIndexKey, p.email)]);
  const intact = async (p: Person) => {
    expect(await adminQuery(REGION, 'SELECT client_name, client_email FROM dossier WHERE id = $1', [p.dossierId])).toEqual([{ client_name: p.fullName, client_email: p.email }]);
    expect(await adminQuery(REGION, 'SELECT count(*)::int AS n FROM activity WHERE dossier_id = $1', [p.dossierId])).toEqual([{ n: 1 }]);
    expect(await ledgerRows(p)).toEqual([]);
    expect(await adminQuery(REGION, "SELECT id FROM privacy_request WHERE org_id = $1 AND type = 'erasure' AND subject_ref = $2", [orgId, emailBlindIndex(cluster().secrets.blindIndexKey, p.email)])).toEqual([]);
  };

  beforeAll(async () => {
    s3 = await S3TestServer.start({ buckets: [BUCKET], accessKeyId: ACCESS_KEY });
    restoreEnv = useTestCredentials(ACCESS_KEY);
    await startTask();
    orgId = (await api().app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Ledger Estates', homeRegion: REGION } })).json().id;
  });
  afterAll(async () => {
    await stopTask();
    await s3?.close();
    restoreEnv();
  });

  it('writes one object per erasure under ledger/<region>/, named by the ledger row, with pseudonymous ids only, and nothing on the task\'s disk', async () => {
    const anna = await person('anna', true);
    const res = await erase(anna);
    expect(res.statusCode).toBe(201);
    const ledgerId = res.json().result.ledgerId as string;
    expect(ledgerKeys()).toContain(`${LEDGER}${ledgerId}.json`);
    const stored = s3.object(BUCKET, `${LEDGER}${ledgerId}.json`)!.toString('utf8');
    const [row] = await adminQuery(REGION, 'SELECT org_id, subject_ref, document_ids, dossier_ids, erased_at FROM erasure_ledger WHERE id = $1', [ledgerId]);
    expect(JSON.parse(stored)).toMatchObject({
      id: ledgerId,
      orgId,
      subjectRef: row!.subject_ref,
      documentIds: [anna.documentId],
      dossierIds: [anna.dossierId],
      erasedAt: new Date(row!.erased_at).toISOString(),
    });
    expect(row!.subject_ref).toBe(emailBlindIndex(cluster().secrets.blindIndexKey, anna.email));
    for (const personal of [anna.email, anna.fullName, 'anna-passport']) expect(stored).not.toContain(personal);
    await expect(stat(ledgerFileOf({ home: taskHome, region: api().app.atlas.config.region }))).rejects.toMatchObject({ code: 'ENOENT' });

    // Two DPOs at once: two objects, neither overwriting the other.
    const [bea, carl] = [await person('bea', false), await person('carl', true)];
    const before = ledgerKeys().length;
    const both = await Promise.all([erase(bea), erase(carl)]);
    expect(both.map((x) => x.statusCode)).toEqual([201, 201]);
    const ids = both.map((x) => x.json().result.ledgerId as string);
    expect(new Set(ids).size).toBe(2);
    expect(ledgerKeys()).toHaveLength(before + 2);
    for (const id of ids) expect(ledgerKeys()).toContain(`${LEDGER}${id}.json`);
  });

  it('refuses an erasure whose ledger copy cannot be written: 503, nothing erased, nothing recorded; a retry completes it', async () => {
    const dora = await person('dora', false);
    const keys = ledgerKeys();
    const sent = s3.requests.length;
    s3.fail({ status: 500, code: 'InternalError', keyPrefix: 'ledger/' });
    try {
      const res = await erase(dora);
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.json().error.code).toBe('ATLAS_ERR_NOT_READY');
      expect(res.body).not.toMatch(/InternalError|ledger\/|127\.0\.0\.1/);
    } finally {
      s3.fail(undefined);
    }
    expect(s3.requests.slice(sent).some((q) => q.method === 'PUT' && q.path.startsWith(`/${BUCKET}/${LEDGER}`))).toBe(true);
    await intact(dora);
    expect(ledgerKeys()).toEqual(keys);

    const retry = await erase(dora);
    expect(retry.statusCode).toBe(201);
    expect(ledgerKeys()).toContain(`${LEDGER}${retry.json().result.ledgerId}.json`);
  });

  it('takes the ledger copy back when the erasure fails after it was written (a body the bucket cannot delete)', async () => {
    const emil = await person('emil', true);
    const keys = ledgerKeys();
    const sent = s3.requests.length;
    // Body deletions fail; the ledger prefix still works.
    s3.fail({ status: 500, code: 'InternalError', method: 'DELETE', keyPrefix: `${REGION}/` });
    try {
      const res = await erase(emil);
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('ATLAS_ERR_NOT_READY');
    } finally {
      s3.fail(undefined);
    }
    const calls = s3.requests.slice(sent).filter((q) => q.path.startsWith(`/${BUCKET}/${LEDGER}`));
    // Written, then withdrawn: the same key.
    expect(calls.map((q) => q.method)).toEqual(['PUT', 'DELETE']);
    expect(calls[0]!.path).toBe(calls[1]!.path);
    expect(ledgerKeys()).toEqual(keys);
    await intact(emil);
    expect(s3.keys(BUCKET)).toContain(bodyKey(emil));

    expect((await erase(emil)).statusCode).toBe(201);
    expect(s3.keys(BUCKET)).not.toContain(bodyKey(emil));
  });

  it('after a restore from an older backup and the loss of every API task, the replay from the bucket leaves no trace', async () => {
    const fay = await person('fay', true);
    const gus = await person('gus', true);
    const backup = await backupOrg(REGION, orgId);
    const bodies = new Map([fay, gus].map((p) => [bodyKey(p), s3.object(BUCKET, bodyKey(p))!]));
    const erased = await Promise.all([erase(fay), erase(gus)]);
    expect(erased.map((x) => x.statusCode)).toEqual([201, 201]);
    const newIds = erased.map((x) => x.json().result.ledgerId as string);
    const needles = [fay.email, fay.fullName, 'fay-passport.pdf', gus.email, gus.fullName, 'gus-passport.pdf'];
    const none = Object.fromEntries(needles.map((n) => [n, []]));
    expect(await tracesOf(needles)).toEqual(none);

    // Disaster: the task is gone with its disk, and the database is restored from the backup
    // (rows, and the bodies as they were, which a versioned bucket can bring back).
    await stopTask();
    await restoreOrg(REGION, orgId, backup);
    for (const [key, body] of bodies) s3.put(BUCKET, key, body);
    expect((await tracesOf([fay.email]))[fay.email]).toContain(`${REGION}/dossier`);
    expect(await adminQuery(REGION, 'SELECT id FROM erasure_ledger WHERE id = ANY($1::uuid[])', [newIds])).toEqual([]);
    // Something in the ledger prefix that is not an entry is reported, not fatal.
    s3.put(BUCKET, `${LEDGER}not-an-entry.json`, Buffer.from('{"orgId": 42}'));

    // A new task, with a new empty disk: the replay entry point with the API's environment.
    const config = await startTask();
    const entries = ledgerKeys().length - 1;
    // anna, bea, carl, dora, emil, fay, gus.
    expect(entries).toBe(7);
    const topologyFile = join(taskHome, 'topology.json');
    await writeFile(topologyFile, JSON.stringify(cluster().topology));
    const env = {
      ATLAS_REGION: REGION,
      ATLAS_HOME: taskHome,
      ATLAS_TOPOLOGY: topologyFile,
      DATABASE_URL: cluster().databases[REGION]!.appUrl,
      ATLAS_ADMIN_DATABASE_URL: adminUrl(),
      ATLAS_DOCUMENT_KEY: cluster().secrets.documentKeys[REGION]!,
      ATLAS_BLIND_INDEX_KEY: cluster().secrets.blindIndexKey,
      ATLAS_AUTH_PUBLIC_KEY: JSON.stringify(publicJwk(cluster().secrets.authSigningKey)),
      ATLAS_AUDIT_SIGNING_KEY: JSON.stringify(cluster().secrets.auditSigningKey),
      ATLAS_DOCUMENTS_BUCKET: BUCKET,
      ATLAS_DOCUMENTS_S3_ENDPOINT: s3.endpoint,
      ATLAS_DOCUMENTS_S3_PATH_STYLE: '1',
    };
    const { ATLAS_ADMIN_DATABASE_URL: _admin, ...withoutAdmin } = env;
    const refused = await runReplayEntry(withoutAdmin);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('ATLAS_ADMIN_DATABASE_URL');

    const run = await runReplayEntry(env);
    // 1: replayed, with a record of the copy to look at.
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ region: REGION, location: `s3://${BUCKET}/${LEDGER}`, unreadable: [`${LEDGER}not-an-entry.json`], imported: 2 });
    expect(report.rowsErased).toBeGreaterThan(0);
    expect(report.bodiesDeleted).toBeGreaterThanOrEqual(2);

    expect(await tracesOf(needles)).toEqual(none);
    for (const key of bodies.keys()) expect(s3.keys(BUCKET)).not.toContain(key);
    expect((await adminQuery(REGION, 'SELECT id FROM erasure_ledger WHERE id = ANY($1::uuid[]) ORDER BY id', [newIds])).map((x) => x.id)).toEqual([...newIds].sort());

    // A second replay, two keys per listing page, finds nothing more to do.
    const sent = s3.requests.length;
    const again = await replayRegionErasureLedger(config, adminUrl(), { pageSize: 2 });
    expect(again).toMatchObject({ imported: 0, rowsErased: 0, unreadable: [`${LEDGER}not-an-entry.json`] });
    // The ledger's ListObjectsV2 pages (the body store's version listings of removed bodies aside).
    const listings = s3.requests.slice(sent).filter((q) => q.method === 'GET' && (q.path === `/${BUCKET}` || q.path === `/${BUCKET}/`) && q.query.includes('list-type=2'));
    expect(listings).toHaveLength(Math.ceil((entries + 1) / 2));
  });
});

describe('erasure ledger file (the local cluster)', () => {
  const entry = (id: string, orgId = 'org_euw1_01hzzzzzzzzzzzzzzzzzzzzzzz'): RecordedLedgerEntry => ({
    id,
    orgId,
    requestId: null,
    subjectRef: `ref-${id}`,
    userIds: [],
    dossierIds: [],
    activityIds: [],
    documentIds: [],
    erasedAt: new Date(0).toISOString(),
  });

  it('appends, withdraws one entry, and reports a line that is not an entry; the replay refuses such a file by line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'atlas-ledger-file-'));
    try {
      const copy = new FileLedgerCopy(join(dir, 'eu-west-1', 'erasure-ledger.jsonl'));
      const ids = ['0190a000-0000-7000-8000-000000000001', '0190a000-0000-7000-8000-000000000002', '0190a000-0000-7000-8000-000000000003'];
      await Promise.all(ids.map((id) => copy.append(entry(id))));
      await copy.withdraw(ids[1]!);
      await copy.withdraw(ids[1]!);
      expect((await copy.readAll()).entries.map((e) => e.id).sort()).toEqual([ids[0], ids[2]]);
      await writeFile(copy.file, `${await readFile(copy.file, 'utf8')}{"half": \n`);
      expect((await copy.readAll()).unreadable).toEqual(['line 3']);
      await expect(replayErasureLedger(cluster().databases[REGION]!.adminUrl, { ledgerFile: copy.file })).rejects.toThrow(/line 3 are not ledger entries; nothing was replayed/);
      expect(((await stat(copy.file)).mode & 0o777).toString(8)).toBe('600');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keys the bucket copy by region and entry id', () => {
    const copy = new S3LedgerCopy({ bucket: BUCKET, region: REGION, prefix: REGION });
    try {
      expect(copy.location).toBe(`s3://${BUCKET}/${LEDGER}`);
      expect(copy.keyOf('0190a000-0000-7000-8000-000000000001')).toBe(`${LEDGER}0190a000-0000-7000-8000-000000000001.json`);
    } finally {
      copy.close();
    }
  });
});
