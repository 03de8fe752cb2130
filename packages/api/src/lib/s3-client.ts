import { S3Client } from '@aws-sdk/client-s3';
import { AtlasError } from '@atlas/core';

/** Where a region's documents bucket is reached: shared by the body store and the erasure ledger copy. */
export interface S3BucketOptions {
  readonly bucket: string;
  /** The bucket's AWS region (the topology region: buckets are created in their home region). */
  readonly region: string;
  /** An S3-compatible endpoint instead of AWS's (tests, MinIO). */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
}

/**
 * The client both stores use. Credentials come from the SDK's default chain (the ECS task role
 * in AWS); the SDK's standard retries (3 attempts, backoff) cover throttling, 5xx and network errors.
 */
export function createS3Client(options: Omit<S3BucketOptions, 'bucket'>): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
  });
}

/** The HTTP status of an S3 error (undefined for a network error). */
export function s3StatusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * Runs one store operation: a bucket that refuses or cannot be reached (after the SDK's retries)
 * is a 503 `ATLAS_ERR_NOT_READY` the caller may retry. The cause rides in `details`, which the
 * error handler logs and never sends with a 5xx.
 */
export async function callS3<T>(operation: string, location: string, message: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const cause = { operation, location, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), status: s3StatusOf(err) };
    throw new AtlasError('ATLAS_ERR_NOT_READY', message, { 'retry-after': '2' }, cause);
  }
}
