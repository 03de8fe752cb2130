import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { createDb } from '@atlas/db';
import { buildApp, type ApiConfig } from '@atlas/api';
import { S3BodyStore } from '../src/lib/body-store';
import { S3TestServer, useTestCredentials, type S3Failure } from '../../../test/support/s3-server';
import { adminQuery, apiConfig, regionApp, type RegionApp } from '../../../test/support/regions';

const REGION = 'eu-west-1';
const BUCKET = 'atlas-test-euw1-versioned-docs';
const PLAIN_BUCKET = 'atlas-test-euw1-unversioned-docs';
const ACCESS_KEY = 'AKIAATLASTESTKEY0002';

/**
 * The documents bucket is versioned (infra/components/documents.component.ts): an overwrite
 * keeps the previous sealed body as a noncurrent version and a plain DeleteObject only hides
 * the key behind a delete marker. Removing a body must leave no version behind.
 */
describe('removing a document body from a versioned bucket leaves no version of it', () => {
  let s3: S3TestServer;
  let r: RegionApp;
  let orgId: string;
  /** A client of the bucket as anyone with s3:ListBucketVersions and s3:GetObjectVersion: what could be restored. */
  let reader: S3Client;
  let restoreEnv: () => void = () => undefined;
  const admin = () => r.as(orgId, 'admin');
  const keyOf = (id: string) => `${REGION}/${orgId}/${id}.bin`;
  const upload = async (id: string, body: string) => {
    const res = await admin().inject({ method: 'PUT', url: `/api/orgs/${orgId}/documents/${id}/content`, payload: Buffer.from(body), headers: { 'content-type': 'application/pdf' } });
    expect(res.statusCode).toBe(200);
  };
  const newDocument = async (filename: string, dossierId?: string) => {
    const res = await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/documents`, payload: { filename, contentType: 'application/pdf', ...(dossierId ? { dossierId } : {}) } });
    expect(res.statusCode).toBe(201);
    return res.json().id as string;
  };
  const newDossier = async (clientEmail: string) => {
    const res = await admin().inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: `file of ${clientEmail}`, clientName: 'Vera Versioned', clientEmail } });
    expect(res.statusCode).toBe(201);
    return res.json().id as string;
  };
  const erase = (email: string) => r.as(orgId, 'dpo').inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, payload: { type: 'erasure', subject: { email } } });
  /** An erasure attempted while the S3 server refuses what `failure` selects: 503, not ready. */
  const refusedWhile = async (failure: S3Failure, email: string) => {
    s3.fail(failure);
    try {
      const refused = await erase(email);
      expect(refused.statusCode).toBe(503);
      expect(refused.json().error.code).toBe('ATLAS_ERR_NOT_READY');
    } finally {
      s3.fail(undefined);
    }
  };
  /** Every version and delete marker of exactly `key`, listed through the protocol (all pages). */
  const listedVersions = async (bucket: string, key: string) => {
    const found: Array<{ versionId: string; deleteMarker: boolean }> = [];
    let marker: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (;;) {
      const page = await reader.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key, MaxKeys: 1, ...marker }));
      for (const v of page.Versions ?? []) if (v.Key === key) found.push({ versionId: v.VersionId!, deleteMarker: false });
      for (const m of page.DeleteMarkers ?? []) if (m.Key === key) found.push({ versionId: m.VersionId!, deleteMarker: true });
      if (!page.IsTruncated) return found;
      marker = { KeyMarker: page.NextKeyMarker!, VersionIdMarker: page.NextVersionIdMarker! };
    }
  };
  const readVersion = async (key: string, versionId: string) => {
    const out = await reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, VersionId: versionId }));
    return Buffer.from(await out.Body!.transformToByteArray());
  };

  beforeAll(async () => {
    s3 = await S3TestServer.start({ buckets: [BUCKET, PLAIN_BUCKET], unversioned: [PLAIN_BUCKET], accessKeyId: ACCESS_KEY });
    restoreEnv = useTestCredentials(ACCESS_KEY);
    reader = new S3Client({ region: REGION, endpoint: s3.endpoint, forcePathStyle: true });
    const config: ApiConfig = { ...apiConfig(REGION), documentsBucket: { bucket: BUCKET, region: REGION, endpoint: s3.endpoint, forcePathStyle: true } };
    const db = createDb(config.databaseUrl, { max: 5 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    r = regionApp(REGION, app, db);
    orgId = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Versioned Estates', homeRegion: REGION } })).json().id;
  });
  afterAll(async () => {
    reader?.destroy();
    await r?.close();
    await s3?.close();
    restoreEnv();
  });

  it('erasure through the API removes every version of the subject\'s overwritten body, and only of it', async () => {
    const email = 'vera.versioned@example.org';
    const doc = await newDocument('vera-passport.pdf', await newDossier(email));
    await upload(doc, 'passport of Vera, first scan');
    await upload(doc, 'passport of Vera, second scan, sharper');
    const other = await newDocument('lease.pdf', await newDossier('someone.else@example.org'));
    await upload(other, 'lease, draft');
    await upload(other, 'lease, signed');

    // Two versions of the subject's body; the first scan can still be fetched by version id.
    const before = await listedVersions(BUCKET, keyOf(doc));
    expect(before.map((v) => v.deleteMarker)).toEqual([false, false]);
    const older = s3.versions(BUCKET, keyOf(doc)).find((v) => !v.isLatest)!;
    expect(Buffer.compare(await readVersion(keyOf(doc), older.versionId), s3.versionBody(BUCKET, keyOf(doc), older.versionId)!)).toBe(0);
    const otherVersions = await listedVersions(BUCKET, keyOf(other));
    expect(otherVersions).toHaveLength(2);

    const res = await erase(email);
    expect(res.statusCode).toBe(201);
    expect(res.json().result.erased.documents).toBe(1);

    expect(await listedVersions(BUCKET, keyOf(doc))).toEqual([]);
    expect(s3.versions(BUCKET, keyOf(doc))).toEqual([]);
    await expect(readVersion(keyOf(doc), older.versionId)).rejects.toMatchObject({ name: 'NoSuchVersion' });
    // Deleted by version id, never hidden behind a delete marker.
    const deletes = s3.requests.filter((q) => q.method === 'DELETE' && q.path === `/${BUCKET}/${keyOf(doc)}`);
    expect(deletes.map((q) => new URLSearchParams(q.query).get('versionId')).sort()).toEqual(before.map((v) => v.versionId).sort());
    // Another subject's document keeps its body and its history.
    expect(await listedVersions(BUCKET, keyOf(other))).toEqual(otherVersions);
    expect((await admin().inject({ method: 'GET', url: `/api/orgs/${orgId}/documents/${other}/content` })).body).toBe('lease, signed');
  });

  it('deleting a document removes its versions too, and delete markers left by an earlier plain delete', async () => {
    const id = await newDocument('memo.pdf');
    await upload(id, 'memo v1');
    // An operator's plain DeleteObject hid it behind a delete marker; a later upload stacked a version on top.
    s3.remove(BUCKET, keyOf(id));
    await upload(id, 'memo v2');
    expect(s3.versions(BUCKET, keyOf(id)).map((v) => v.deleteMarker)).toEqual([false, true, false]);

    expect((await admin().inject({ method: 'DELETE', url: `/api/orgs/${orgId}/documents/${id}` })).statusCode).toBe(204);
    expect(await listedVersions(BUCKET, keyOf(id))).toEqual([]);
  });

  it('fails the erasure (503, nothing erased) when the versions cannot be listed or one cannot be deleted, and completes it on retry', async () => {
    const email = 'retry.me@example.org';
    const doc = await newDocument('retry.pdf', await newDossier(email));
    await upload(doc, 'retry body v1');
    await upload(doc, 'retry body v2');

    // Every GET refused: the ledger copy (PUT, DELETE to withdraw) needs none, the version listing does.
    await refusedWhile({ status: 500, code: 'InternalError', method: 'GET' }, email);
    expect(await adminQuery(REGION, 'SELECT id FROM document WHERE id = $1', [doc])).toHaveLength(1);
    expect(await listedVersions(BUCKET, keyOf(doc))).toHaveLength(2);

    // The delete of the older version refused: still an error, the document stays, and it still
    // reads as its latest body. (Deleting the current version first would have made the older
    // body current: the document would silently read as its first version.)
    const [latest, older] = s3.versions(BUCKET, keyOf(doc)).map((v) => v.versionId);
    await refusedWhile({ status: 500, code: 'InternalError', method: 'DELETE', versionId: older }, email);
    expect(await adminQuery(REGION, 'SELECT id FROM document WHERE id = $1', [doc])).toHaveLength(1);
    expect(await listedVersions(BUCKET, keyOf(doc))).toEqual([{ versionId: latest, deleteMarker: false }, { versionId: older, deleteMarker: false }]);
    expect((await admin().inject({ method: 'GET', url: `/api/orgs/${orgId}/documents/${doc}/content` })).body).toBe('retry body v2');

    const done = await erase(email);
    expect(done.statusCode).toBe(201);
    expect(done.json().result.erased.documents).toBe(1);
    expect(await listedVersions(BUCKET, keyOf(doc))).toEqual([]);
  });

  it('pages through many versions of one key and leaves keys that merely share its prefix', async () => {
    const store = new S3BodyStore({ bucket: BUCKET, region: REGION, prefix: 'paging', endpoint: s3.endpoint, forcePathStyle: true, pageSize: 2 });
    try {
      const key = store.keyOf('org_paging', 'doc_many');
      for (let i = 0; i < 6; i++) await store.write('org_paging', 'doc_many', Buffer.from(`version ${i}`));
      s3.remove(BUCKET, key);
      await store.write('org_paging', 'doc_many', Buffer.from('after the marker'));
      s3.put(BUCKET, `${key}.copy`, Buffer.from('an operator copy beside it'));
      expect(s3.versions(BUCKET, key)).toHaveLength(8);

      const sent = s3.requests.length;
      await store.remove('org_paging', 'doc_many');
      expect(s3.versions(BUCKET, key)).toEqual([]);
      expect(s3.keys(BUCKET)).toContain(`${key}.copy`);
      expect(s3.versions(BUCKET, `${key}.copy`)).toHaveLength(1);
      // 8 entries plus the sibling, two per page: later pages resume after a key and version id marker.
      const listings = s3.requests.slice(sent).filter((q) => q.method === 'GET' && new URLSearchParams(q.query).has('versions'));
      expect(listings.length).toBeGreaterThanOrEqual(5);
      expect(listings.some((q) => new URLSearchParams(q.query).has('version-id-marker'))).toBe(true);
      expect(await store.read('org_paging', 'doc_many')).toBeUndefined();

      // Idempotent: nothing left, so no delete is sent.
      const again = s3.requests.length;
      await store.remove('org_paging', 'doc_many');
      expect(s3.requests.slice(again).filter((q) => q.method === 'DELETE')).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('removes the body of a bucket without versioning too (its one version is "null")', async () => {
    const store = new S3BodyStore({ bucket: PLAIN_BUCKET, region: REGION, prefix: REGION, endpoint: s3.endpoint, forcePathStyle: true });
    try {
      await store.write('org_plain', 'doc_plain', Buffer.from('one'));
      await store.write('org_plain', 'doc_plain', Buffer.from('two'));
      const key = store.keyOf('org_plain', 'doc_plain');
      expect(s3.versions(PLAIN_BUCKET, key)).toEqual([{ versionId: 'null', deleteMarker: false, isLatest: true }]);
      await store.remove('org_plain', 'doc_plain');
      expect(s3.versions(PLAIN_BUCKET, key)).toEqual([]);
      expect(s3.keys(PLAIN_BUCKET)).toEqual([]);
    } finally {
      store.close();
    }
  });
});
