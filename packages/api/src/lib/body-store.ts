import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand, NoSuchKey, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { regionDir } from '@atlas/db';
import type { ApiConfig } from '../config';
import { callS3, createS3Client, type S3BucketOptions } from './s3-client';

/**
 * Where sealed (already encrypted) document bodies live. DocumentStore encrypts and binds each
 * body to its organization and document; an implementation only keeps opaque bytes under that
 * pair, so none of them ever sees a plaintext body or the key.
 */
export interface SealedBodyStore {
  /** For logs and errors: `file:///…` or `s3://bucket/prefix`. */
  readonly location: string;
  /** Replaces the body whole: a reader sees the old bytes or the new ones, never a mix. */
  write(orgId: string, documentId: string, sealed: Buffer): Promise<void>;
  /** The sealed bytes, or undefined when nothing is stored under that document. */
  read(orgId: string, documentId: string): Promise<Buffer | undefined>;
  /** Removes the body for good (from a versioned bucket: every version of it). Idempotent: removing a body that is not there succeeds. */
  remove(orgId: string, documentId: string): Promise<void>;
  /** Releases connections (on app close). */
  close(): void;
}

/** The region's own folder (`<ATLAS_HOME>/<region>/documents`): the local cluster's store. */
export class FileBodyStore implements SealedBodyStore {
  constructor(readonly root: string) {}

  get location(): string {
    return `file://${this.root}`;
  }

  /** The file holding a document's sealed body. */
  pathOf(orgId: string, documentId: string): string {
    return join(this.root, orgId, `${documentId}.bin`);
  }

  async write(orgId: string, documentId: string, sealed: Buffer): Promise<void> {
    const target = this.pathOf(orgId, documentId);
    await mkdir(join(this.root, orgId), { recursive: true });
    // Write then rename: a crash never leaves a half-written body under the real name.
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, sealed, { mode: 0o600 });
    await rename(temp, target);
  }

  async read(orgId: string, documentId: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(orgId, documentId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async remove(orgId: string, documentId: string): Promise<void> {
    await rm(this.pathOf(orgId, documentId), { force: true });
  }

  close(): void {
    // Nothing held open between calls.
  }
}

export interface S3BodyStoreOptions extends S3BucketOptions {
  /** Key prefix: the region whose bodies these are, so a DR partner hosting another region keeps them apart. */
  readonly prefix: string;
  /** Entries per ListObjectVersions page (S3 answers at most 1000). */
  readonly pageSize?: number;
}

/** Deletion rounds before remove() gives up on a key that keeps getting new versions. */
const PURGE_ROUNDS = 3;
/** Version deletes in flight at once for one key. */
const DELETE_CONCURRENCY = 8;

/**
 * The region's S3 bucket (infra/components/documents.component.ts), shared by every task of
 * the service and kept when a task is replaced. Objects are PutObject'd whole, which S3 makes
 * atomic. The bucket is versioned, so an overwrite keeps the previous sealed body as a
 * noncurrent version and a plain DeleteObject only adds a delete marker: remove() therefore
 * deletes every version and delete marker of the key (see remove).
 */
export class S3BodyStore implements SealedBodyStore {
  private readonly client: S3Client;

  constructor(private readonly options: S3BodyStoreOptions) {
    this.client = createS3Client(options);
  }

  get location(): string {
    return `s3://${this.options.bucket}/${this.options.prefix}`;
  }

  /** The object key of a document's sealed body. */
  keyOf(orgId: string, documentId: string): string {
    return `${this.options.prefix}/${orgId}/${documentId}.bin`;
  }

  async write(orgId: string, documentId: string, sealed: Buffer): Promise<void> {
    await this.call('write', () =>
      this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(orgId, documentId), Body: sealed, ContentType: 'application/octet-stream' })),
    );
  }

  async read(orgId: string, documentId: string): Promise<Buffer | undefined> {
    return this.call('read', async () => {
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(orgId, documentId) }));
        if (!out.Body) return Buffer.alloc(0);
        return Buffer.from(await out.Body.transformToByteArray());
      } catch (err) {
        if (err instanceof NoSuchKey || (err instanceof S3ServiceException && err.name === 'NoSuchKey')) return undefined;
        throw err;
      }
    });
  }

  /**
   * Every delete (the document's, an erasure's, retention's, a ledger replay's) removes the body
   * for good: every version and delete marker of the key, not only the current object, so no
   * earlier sealed body stays restorable from the bucket. Lists the key's versions (all pages),
   * deletes each by VersionId, the current one last, and lists again until none is left. Current
   * last: deleting the current version of a versioned key makes the previous one current, so a
   * delete failing half-way must not have reached it, or the document (whose row the failure
   * keeps) would read as an older body. A write racing the delete
   * adds a version the next round removes; a key still written to after PURGE_ROUNDS rounds,
   * or any refused list or delete, fails the call (503), so an erasure never reports success
   * over a version it left behind. A key with no version succeeds (idempotent).
   */
  async remove(orgId: string, documentId: string): Promise<void> {
    const key = this.keyOf(orgId, documentId);
    await this.call('remove', async () => {
      for (let round = 0; ; round++) {
        const versions = await this.versionsOf(key);
        if (versions.length === 0) return;
        if (round === PURGE_ROUNDS) throw new Error(`${versions.length} version(s) of ${key} remain after ${PURGE_ROUNDS} deletion rounds`);
        await this.deleteVersions(key, versions);
      }
    });
  }

  /** Every version and delete marker of exactly `key` (the listing is by prefix), in listing order. */
  async versionsOf(key: string): Promise<Array<{ versionId: string; isLatest: boolean }>> {
    const found: Array<{ versionId: string; isLatest: boolean }> = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectVersionsCommand({
          Bucket: this.options.bucket,
          Prefix: key,
          ...(this.options.pageSize ? { MaxKeys: this.options.pageSize } : {}),
          ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
          ...(versionIdMarker !== undefined ? { VersionIdMarker: versionIdMarker } : {}),
        }),
      );
      for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        // An unversioned bucket lists its objects with the version id "null", which DeleteObject accepts.
        if (entry.Key === key) found.push({ versionId: entry.VersionId ?? 'null', isLatest: entry.IsLatest ?? false });
      }
      if (!page.IsTruncated) return found;
      if (page.NextKeyMarker === undefined && page.NextVersionIdMarker === undefined) throw new Error(`truncated version listing of ${key} without a next marker`);
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  }

  close(): void {
    this.client.destroy();
  }

  /**
   * DeleteObject per version id, a few at a time, the current version alone after all the others;
   * waits for all of a batch, then throws its first failure (so nothing after it is deleted).
   */
  private async deleteVersions(key: string, versions: ReadonlyArray<{ versionId: string; isLatest: boolean }>): Promise<void> {
    const noncurrent = versions.filter((v) => !v.isLatest).map((v) => v.versionId);
    await this.deleteEach(key, noncurrent);
    await this.deleteEach(key, versions.filter((v) => v.isLatest).map((v) => v.versionId));
  }

  private async deleteEach(key: string, versionIds: readonly string[]): Promise<void> {
    for (let at = 0; at < versionIds.length; at += DELETE_CONCURRENCY) {
      const batch = versionIds.slice(at, at + DELETE_CONCURRENCY);
      const results = await Promise.allSettled(batch.map((VersionId) => this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key, VersionId }))));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /** A bucket that refuses or cannot be reached (after the SDK's retries) is a 503 with a code: the caller may retry. */
  private call<T>(what: string, run: () => Promise<T>): Promise<T> {
    return callS3(what, this.location, 'the document store is unavailable; retry shortly', run);
  }
}

/**
 * The body store a region's API uses: its S3 bucket when configured (AWS), else its folder
 * under ATLAS_HOME (the local cluster). Bodies are kept per region (folder or key prefix), so
 * a DR partner hosting another region's API never mixes them with its own.
 */
export function bodyStoreFor(config: Pick<ApiConfig, 'home' | 'region' | 'documentsBucket'>): SealedBodyStore {
  const bucket = config.documentsBucket;
  if (!bucket) return new FileBodyStore(join(regionDir(config.home, config.region.id), 'documents'));
  return new S3BodyStore({ ...bucket, prefix: config.region.id });
}
