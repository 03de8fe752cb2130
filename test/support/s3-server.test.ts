import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3TestServer } from './s3-server';

const ACCESS_KEY = 'AKIAATLASTESTKEY0003';
const VERSIONED = 'versioned-bucket';
const PLAIN = 'plain-bucket';

/** The local S3 server's versioning, through the AWS SDK, as the body store relies on it. */
describe('S3TestServer versioning', () => {
  let s3: S3TestServer;
  let client: S3Client;
  const put = (Bucket: string, Key: string, body: string) => client.send(new PutObjectCommand({ Bucket, Key, Body: body }));
  const get = async (Bucket: string, Key: string, VersionId?: string) => {
    const out = await client.send(new GetObjectCommand({ Bucket, Key, ...(VersionId ? { VersionId } : {}) }));
    return out.Body!.transformToString();
  };

  beforeAll(async () => {
    s3 = await S3TestServer.start({ buckets: [VERSIONED, PLAIN], unversioned: [PLAIN], accessKeyId: ACCESS_KEY });
    client = new S3Client({ region: 'eu-west-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: 'atlas-test-secret' } });
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.close();
  });

  it('keeps every PutObject as a version, hides the key behind a delete marker, and deletes one version by id', async () => {
    const v1 = (await put(VERSIONED, 'a/doc.bin', 'one')).VersionId!;
    const v2 = (await put(VERSIONED, 'a/doc.bin', 'two')).VersionId!;
    expect(v1).not.toBe(v2);
    expect(await get(VERSIONED, 'a/doc.bin')).toBe('two');
    expect(await get(VERSIONED, 'a/doc.bin', v1)).toBe('one');

    const marker = await client.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: 'a/doc.bin' }));
    expect(marker.DeleteMarker).toBe(true);
    await expect(get(VERSIONED, 'a/doc.bin')).rejects.toMatchObject({ name: 'NoSuchKey' });
    await expect(client.send(new HeadObjectCommand({ Bucket: VERSIONED, Key: 'a/doc.bin' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    expect(await get(VERSIONED, 'a/doc.bin', v1)).toBe('one');
    expect((await client.send(new ListObjectsV2Command({ Bucket: VERSIONED, Prefix: 'a/' }))).Contents ?? []).toEqual([]);

    // Removing the marker by its id makes the newest version current again.
    await client.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: 'a/doc.bin', VersionId: marker.VersionId! }));
    expect(await get(VERSIONED, 'a/doc.bin')).toBe('two');
    // Deleting the current version makes the previous one current.
    await client.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: 'a/doc.bin', VersionId: v2 }));
    expect(await get(VERSIONED, 'a/doc.bin')).toBe('one');
    await expect(get(VERSIONED, 'a/doc.bin', v2)).rejects.toMatchObject({ name: 'NoSuchVersion' });
    await client.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: 'a/doc.bin', VersionId: v1 }));
    expect(s3.versions(VERSIONED, 'a/doc.bin')).toEqual([]);
  });

  it('lists versions and delete markers by key, newest first, page by page with key and version-id markers', async () => {
    const ids: string[] = [];
    for (const body of ['1', '2', '3']) ids.push((await put(VERSIONED, 'p/x.bin', body)).VersionId!);
    ids.push((await client.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: 'p/x.bin' }))).VersionId!);
    ids.push((await put(VERSIONED, 'p/y.bin', 'y')).VersionId!);

    const seen: Array<[string, string, boolean, boolean]> = [];
    let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
    let pages = 0;
    for (;;) {
      const page = await client.send(new ListObjectVersionsCommand({ Bucket: VERSIONED, Prefix: 'p/', MaxKeys: 2, ...markers }));
      pages++;
      const entries = [...(page.Versions ?? []).map((v) => [v, false] as const), ...(page.DeleteMarkers ?? []).map((m) => [m, true] as const)];
      expect(entries.length).toBeLessThanOrEqual(2);
      // Within a page, keep the server's order: key, then newest first (ids are listed in that order).
      const ordered = entries.sort(([a], [b]) => (a.Key! < b.Key! ? -1 : a.Key! > b.Key! ? 1 : ids.indexOf(b.VersionId!) - ids.indexOf(a.VersionId!)));
      for (const [e, isMarker] of ordered) seen.push([e.Key!, e.VersionId!, e.IsLatest!, isMarker]);
      if (!page.IsTruncated) break;
      markers = { KeyMarker: page.NextKeyMarker!, VersionIdMarker: page.NextVersionIdMarker! };
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([
      ['p/x.bin', ids[3], true, true],
      ['p/x.bin', ids[2], false, false],
      ['p/x.bin', ids[1], false, false],
      ['p/x.bin', ids[0], false, false],
      ['p/y.bin', ids[4], true, false],
    ]);
  });

  it('keeps one version ("null") per key in a bucket without versioning, and deletes outright', async () => {
    const first = await put(PLAIN, 'k.bin', 'one');
    expect(first.VersionId).toBeUndefined();
    await put(PLAIN, 'k.bin', 'two');
    const listed = await client.send(new ListObjectVersionsCommand({ Bucket: PLAIN, Prefix: 'k.bin' }));
    expect((listed.Versions ?? []).map((v) => [v.VersionId, v.IsLatest])).toEqual([['null', true]]);
    expect(listed.DeleteMarkers ?? []).toEqual([]);
    await client.send(new DeleteObjectCommand({ Bucket: PLAIN, Key: 'k.bin' }));
    expect(s3.versions(PLAIN, 'k.bin')).toEqual([]);
  });
});
