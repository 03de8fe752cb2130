import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, regionDir } from '@atlas/db';
import { buildApp, type ApiConfig } from '@atlas/api';
import { configFromEnv, ConfigError } from '../src/config';
import { S3BodyStore } from '../src/lib/body-store';
import { runRetentionPurge } from '../src/lib/retention';
import { S3TestServer, useTestCredentials } from '../../../test/support/s3-server';
import { adminQuery, apiConfig, cluster, regionApp, startRegionApp, type RegionApp } from '../../../test/support/regions';

const REGION = 'eu-west-1';
const BUCKET = 'atlas-test-euw1-docs';
const ACCESS_KEY = 'AKIAATLASTESTKEY0001';

describe('document bodies in the region\'s S3 bucket (ATLAS_DOCUMENTS_BUCKET)', () => {
  let s3: S3TestServer;
  let r: RegionApp;
  /** The same region with bodies on local disk (the default): the reference for "as today". */
  let files: RegionApp;
  let orgId: string;
  let restoreEnv: () => void = () => undefined;
  const admin = () => r.as(orgId, 'admin');
  const keyOf = (id: string) => `${REGION}/${orgId}/${id}.bin`;
  const newDocument = async (filename: string) => {
    const res = await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/documents`, payload: { filename, contentType: 'application/pdf' } });
    expect(res.statusCode).toBe(201);
    return res.json().id as string;
  };
  const upload = (id: string, body: Buffer) =>
    admin().inject({ method: 'PUT', url: `/api/orgs/${orgId}/documents/${id}/content`, payload: body, headers: { 'content-type': 'application/pdf' } });
  const download = (id: string) => admin().inject({ method: 'GET', url: `/api/orgs/${orgId}/documents/${id}/content` });
  const row = async (id: string) => (await adminQuery(REGION, 'SELECT size_bytes, sha256 FROM document WHERE id = $1', [id]))[0];

  beforeAll(async () => {
    s3 = await S3TestServer.start({ buckets: [BUCKET], accessKeyId: ACCESS_KEY });
    restoreEnv = useTestCredentials(ACCESS_KEY);
    const base = apiConfig(REGION);
    const config: ApiConfig = {
      ...base,
      documentsBucket: { bucket: BUCKET, region: REGION, endpoint: s3.endpoint, forcePathStyle: true },
      security: { ...base.security, retention: { documentDays: 30 } },
    };
    const db = createDb(config.databaseUrl, { max: 5 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    r = regionApp(REGION, app, db);
    files = await startRegionApp(REGION);
    orgId = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Bucket Estates', homeRegion: REGION } })).json().id;
  });
  afterAll(async () => {
    await r?.close();
    await files?.close();
    await s3?.close();
    restoreEnv();
  });

  it('selects the S3 store from the config, keyed by region, organization and document', () => {
    const store = r.app.atlas.documents.bodies;
    expect(store).toBeInstanceOf(S3BodyStore);
    expect(store.location).toBe(`s3://${BUCKET}/${REGION}`);
  });

  it('round-trips a body through the bucket, sealed: the object is not the plaintext and nothing lands on local disk', async () => {
    const id = await newDocument('deed.pdf');
    const body = Buffer.from(`%PDF-1.7 title deed of Bucket Estates ${'y'.repeat(70_000)}`);
    const up = await upload(id, body);
    expect(up.statusCode).toBe(200);
    expect(up.json()).toMatchObject({ uploaded: true, sizeBytes: body.length });

    const stored = s3.object(BUCKET, keyOf(id));
    expect(stored).toBeDefined();
    expect(stored!.includes(Buffer.from('title deed'))).toBe(false);
    // IV (12) and GCM tag (16) around a ciphertext as long as the body.
    expect(stored!.length).toBe(body.length + 28);
    expect(s3.requests.some((q) => q.method === 'PUT' && q.path === `/${BUCKET}/${keyOf(id)}`)).toBe(true);

    const down = await download(id);
    expect(down.statusCode).toBe(200);
    expect(down.headers['content-type']).toBe('application/pdf');
    expect(Buffer.compare(down.rawPayload, body)).toBe(0);
    const local = await readdir(join(regionDir(cluster().home, REGION), 'documents', orgId)).catch(() => []);
    expect(local).toEqual([]);
  });

  it('replaces a body whole on a second upload', async () => {
    const id = await newDocument('v2.pdf');
    expect((await upload(id, Buffer.from('first version'))).statusCode).toBe(200);
    expect((await upload(id, Buffer.from('second version, longer'))).statusCode).toBe(200);
    expect((await download(id)).body).toBe('second version, longer');
    expect((await row(id))!.size_bytes).toBe(String(Buffer.byteLength('second version, longer')));
  });

  it('answers a body never uploaded with the same 404 as the file store', async () => {
    const id = await newDocument('pending.pdf');
    const fromBucket = await download(id);
    const fromDisk = await files.as(orgId, 'admin').inject({ method: 'GET', url: `/api/orgs/${orgId}/documents/${id}/content` });
    expect(fromBucket.statusCode).toBe(404);
    expect(fromBucket.json().error.code).toBe('ATLAS_ERR_NOT_FOUND');
    expect(fromBucket.json()).toEqual(fromDisk.json());
    expect(s3.requests.some((q) => q.method === 'GET' && q.path === `/${BUCKET}/${keyOf(id)}`)).toBe(true);
  });

  it('refuses bytes stored under another document\'s key (the AAD binds org and document)', async () => {
    const a = await newDocument('a.pdf');
    const b = await newDocument('b.pdf');
    expect((await upload(a, Buffer.from('body of a'))).statusCode).toBe(200);
    expect((await upload(b, Buffer.from('body of b'))).statusCode).toBe(200);
    // Someone with bucket access copies a's object over b's.
    await r.app.atlas.documents.bodies.write(orgId, b, s3.object(BUCKET, keyOf(a))!);
    const res = await download(b);
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toEqual({ code: 'ATLAS_ERR_INTERNAL', message: 'internal error' });
    expect(res.body).not.toContain('body of a');
  });

  it('deletes the object with the document', async () => {
    const id = await newDocument('gone.pdf');
    expect((await upload(id, Buffer.from('short-lived'))).statusCode).toBe(200);
    expect(s3.keys(BUCKET)).toContain(keyOf(id));
    expect((await admin().inject({ method: 'DELETE', url: `/api/orgs/${orgId}/documents/${id}` })).statusCode).toBe(204);
    expect(s3.keys(BUCKET)).not.toContain(keyOf(id));
    expect((await download(id)).statusCode).toBe(404);
  });

  it('turns a failing bucket into a 503 with a code and changes neither the row nor the stored body', async () => {
    const id = await newDocument('contract.pdf');
    expect((await upload(id, Buffer.from('signed contract v1'))).statusCode).toBe(200);
    const before = await row(id);
    const storedBefore = s3.object(BUCKET, keyOf(id));

    s3.fail({ status: 500, code: 'InternalError' });
    try {
      const up = await upload(id, Buffer.from('signed contract v2, never stored'));
      expect(up.statusCode).toBe(503);
      expect(up.headers['retry-after']).toBe('2');
      expect(up.json().error.code).toBe('ATLAS_ERR_NOT_READY');
      // The bucket's own words stay in the log.
      expect(up.body).not.toMatch(/InternalError|injected|127\.0\.0\.1/);
      expect(await row(id)).toEqual(before);

      const down = await download(id);
      expect(down.statusCode).toBe(503);
      expect(down.json().error.code).toBe('ATLAS_ERR_NOT_READY');

      // A delete whose body cannot be removed is rolled back: the row stays, and a retry can finish it.
      const del = await admin().inject({ method: 'DELETE', url: `/api/orgs/${orgId}/documents/${id}` });
      expect(del.statusCode).toBe(503);
      expect(await row(id)).toEqual(before);
    } finally {
      s3.fail(undefined);
    }
    expect(Buffer.compare(s3.object(BUCKET, keyOf(id))!, storedBefore!)).toBe(0);
    expect((await download(id)).body).toBe('signed contract v1');
    expect((await admin().inject({ method: 'DELETE', url: `/api/orgs/${orgId}/documents/${id}` })).statusCode).toBe(204);
    expect(s3.keys(BUCKET)).not.toContain(keyOf(id));
  });

  it('answers a first upload refused by the bucket with a 503 and leaves the document not uploaded', async () => {
    const id = await newDocument('refused.pdf');
    s3.fail({ status: 503, code: 'SlowDown' });
    try {
      const up = await upload(id, Buffer.from('never stored'));
      expect(up.statusCode).toBe(503);
      expect(up.json().error.code).toBe('ATLAS_ERR_NOT_READY');
    } finally {
      s3.fail(undefined);
    }
    expect(await row(id)).toEqual({ size_bytes: null, sha256: null });
    expect(s3.keys(BUCKET)).not.toContain(keyOf(id));
    const meta = await admin().inject({ method: 'GET', url: `/api/orgs/${orgId}/documents/${id}` });
    expect(meta.json().uploaded).toBe(false);
  });

  it('erases a data subject\'s document bodies from the bucket', async () => {
    const email = 'erase.me@example.org';
    const dossier = (await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: 'to erase', clientName: 'Erin Erased', clientEmail: email } })).json().id;
    const doc = (await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/documents`, payload: { filename: 'erin-id.pdf', dossierId: dossier } })).json().id;
    expect((await upload(doc, Buffer.from('passport of Erin Erased'))).statusCode).toBe(200);
    const kept = await newDocument('unrelated.pdf');
    expect((await upload(kept, Buffer.from('not about Erin'))).statusCode).toBe(200);

    const erase = () => r.as(orgId, 'dpo').inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'erasure', subject: { email } } });

    // A bucket that cannot remove the body rolls the whole erasure back, so it can be retried.
    s3.fail({ status: 500, code: 'InternalError' });
    try {
      const refused = await erase();
      expect(refused.statusCode).toBe(503);
      expect(refused.json().error.code).toBe('ATLAS_ERR_NOT_READY');
    } finally {
      s3.fail(undefined);
    }
    expect(await adminQuery(REGION, 'SELECT id FROM document WHERE id = $1', [doc])).toHaveLength(1);
    expect(await adminQuery(REGION, 'SELECT status FROM privacy_request WHERE org_id = $1', [orgId])).toEqual([]);
    expect(s3.keys(BUCKET)).toContain(keyOf(doc));

    const res = await erase();
    expect(res.statusCode).toBe(201);
    expect(res.json().result.erased.documents).toBe(1);
    expect(s3.keys(BUCKET)).not.toContain(keyOf(doc));
    expect(s3.keys(BUCKET)).toContain(keyOf(kept));
    expect(await adminQuery(REGION, 'SELECT id FROM document WHERE id = $1', [doc])).toEqual([]);
  });

  it('purges expired documents\' bodies from the bucket with their rows (retention)', async () => {
    const id = await newDocument('expired.pdf');
    expect((await upload(id, Buffer.from('an old lease'))).statusCode).toBe(200);
    await adminQuery(REGION, "UPDATE document SET created_at = now() - interval '40 days' WHERE id = $1", [id]);
    const report = await runRetentionPurge(r.app.atlas, new Date(), [orgId]);
    expect(report.totals.document).toBe(1);
    expect(s3.keys(BUCKET)).not.toContain(keyOf(id));
    expect(await adminQuery(REGION, 'SELECT id FROM document WHERE id = $1', [id])).toEqual([]);
  });
});

describe('ATLAS_DOCUMENTS_BUCKET configuration', () => {
  const base = {
    ATLAS_REGION: REGION,
    ATLAS_HOME: '/tmp/atlas-test-home',
    DATABASE_URL: 'postgres://a:b@127.0.0.1:1/d',
    ATLAS_DOCUMENT_KEY: Buffer.alloc(32, 1).toString('base64'),
    ATLAS_BLIND_INDEX_KEY: 'k'.repeat(32),
    ATLAS_AUTH_PUBLIC_KEY: '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo"}',
    ATLAS_AUDIT_SIGNING_KEY: '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo","d":"V4VGbhuzJLk2Bjsf71NaQ7ZFfFU6Iq4RTLBByQjx1LE"}',
  };

  it('keeps bodies on local disk without it, and reads the bucket, endpoint and path style with it', () => {
    expect(configFromEnv(base).documentsBucket).toBeUndefined();
    expect(configFromEnv({ ...base, ATLAS_DOCUMENTS_BUCKET: BUCKET }).documentsBucket).toEqual({ bucket: BUCKET, region: REGION, forcePathStyle: false });
    expect(configFromEnv({ ...base, ATLAS_DOCUMENTS_BUCKET: BUCKET, ATLAS_DOCUMENTS_S3_ENDPOINT: 'http://127.0.0.1:9000', ATLAS_DOCUMENTS_S3_PATH_STYLE: '1' }).documentsBucket).toEqual({
      bucket: BUCKET,
      region: REGION,
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });
  });

  it.each([
    [{ ATLAS_DOCUMENTS_BUCKET: 'Not_A_Bucket' }, 'ATLAS_DOCUMENTS_BUCKET'],
    [{ ATLAS_DOCUMENTS_BUCKET: BUCKET, ATLAS_DOCUMENTS_S3_ENDPOINT: 'ftp://x' }, 'ATLAS_DOCUMENTS_S3_ENDPOINT'],
    [{ ATLAS_DOCUMENTS_BUCKET: BUCKET, ATLAS_DOCUMENTS_S3_PATH_STYLE: 'yes' }, 'ATLAS_DOCUMENTS_S3_PATH_STYLE'],
    [{ ATLAS_DOCUMENTS_S3_ENDPOINT: 'http://127.0.0.1:9000' }, 'ATLAS_DOCUMENTS_S3_ENDPOINT: is used only with ATLAS_DOCUMENTS_BUCKET'],
  ])('refuses %j by name', (extra, message) => {
    expect(() => configFromEnv({ ...base, ...extra })).toThrow(ConfigError);
    expect(() => configFromEnv({ ...base, ...extra })).toThrow(message);
  });
});
