import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { AtlasError } from '@atlas/core';
import { regionDir } from '@atlas/db';
import type { ApiConfig } from '../config';

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
  /** Idempotent: removing a body that is not there succeeds. */
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

export interface S3BodyStoreOptions {
  readonly bucket: string;
  /** The bucket's AWS region (the topology region: buckets are created in their home region). */
  readonly region: string;
  /** Key prefix: the region whose bodies these are, so a DR partner hosting another region keeps them apart. */
  readonly prefix: string;
  /** An S3-compatible endpoint instead of AWS's (tests, MinIO). */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
}

/**
 * The region's S3 bucket (infra/components/documents.component.ts), shared by every task of
 * the service and kept when a task is replaced. Objects are PutObject'd whole, which S3 makes
 * atomic; credentials come from the SDK's default chain (the ECS task role in AWS).
 */
export class S3BodyStore implements SealedBodyStore {
  private readonly client: S3Client;

  constructor(private readonly options: S3BodyStoreOptions) {
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      // The SDK's standard retries (3 attempts, backoff) cover throttling, 5xx and network errors.
    });
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

  async remove(orgId: string, documentId: string): Promise<void> {
    await this.call('remove', () => this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(orgId, documentId) })));
  }

  close(): void {
    this.client.destroy();
  }

  /**
   * A bucket that refuses or cannot be reached (after the SDK's retries) is a 503 with a code:
   * the caller may retry. The cause rides in `details`, which the error handler logs and never
   * sends with a 5xx.
   */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const cause = { operation: what, location: this.location, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), status };
      throw new AtlasError('ATLAS_ERR_NOT_READY', 'the document store is unavailable; retry shortly', { 'retry-after': '2' }, cause);
    }
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
  return new S3BodyStore({
    bucket: bucket.bucket,
    region: bucket.region,
    prefix: config.region.id,
    ...(bucket.endpoint ? { endpoint: bucket.endpoint } : {}),
    forcePathStyle: bucket.forcePathStyle,
  });
}
