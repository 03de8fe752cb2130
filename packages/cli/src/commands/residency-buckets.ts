import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, S3Client, S3ServiceException, type _Object } from '@aws-sdk/client-s3';
import type { RegionConfig, Topology } from '@atlas/core';
import type { Check } from './residency';

/** One region's documents bucket, as its API is configured (ATLAS_DOCUMENTS_BUCKET and friends). */
export interface RegionBucket {
  readonly bucket: string;
  /** An S3-compatible endpoint instead of AWS's (tests, MinIO); its bucket is addressed in the path. */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
}

export type RegionBuckets = Readonly<Record<string, RegionBucket>>;

/** The canary document planted in a region, as its home bucket must hold it. */
export interface CanaryDocument {
  readonly region: RegionConfig;
  readonly marker: string;
  readonly orgId: string;
  readonly documentId: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * `--buckets '{"eu-west-1":"atlas-prod-euw1-docs-…",…}'` (a region id → bucket name object) and
 * `--s3-endpoint <url>`: validated against the topology, or an Error naming what is wrong.
 */
export function parseBucketsOption(text: string, topology: Topology, endpoint?: string): RegionBuckets {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('--buckets: expected a JSON object of region id → bucket name');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('--buckets: expected a JSON object of region id → bucket name');
  if (endpoint !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(endpoint)) throw new Error(`--s3-endpoint: ${endpoint} is not an http(s) origin`);
  const out: Record<string, RegionBucket> = {};
  for (const [region, bucket] of Object.entries(parsed)) {
    if (!topology.regions.some((r) => r.id === region)) throw new Error(`--buckets: ${region} is not a region of the topology`);
    if (typeof bucket !== 'string' || !BUCKET_NAME.test(bucket)) throw new Error(`--buckets: ${region}: ${JSON.stringify(bucket)} is not a bucket name`);
    out[region] = { bucket, ...(endpoint ? { endpoint, forcePathStyle: true } : {}) };
  }
  return out;
}

interface HomeObject {
  readonly canary: CanaryDocument;
  readonly sha256: string;
  readonly size: number;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const isMissing = (err: unknown) => err instanceof NoSuchKey || (err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.$metadata.httpStatusCode === 404));

/** The object key the API gives a document body (packages/api/src/lib/body-store.ts). */
export const bodyKeyOf = (c: CanaryDocument) => `${c.region.id}/${c.orgId}/${c.documentId}.bin`;

/**
 * Document bodies in the regions' S3 buckets: each canary's body must be in its home bucket
 * (under the key its API gives it), and no bucket of another jurisdiction may hold it — found
 * by listing the whole bucket (a key naming the canary's organization or document), by reading
 * the canary's own key there, and by reading every object that could be a copy of it (same size
 * as the sealed canary, or written since the run started) to compare bytes, and to look for the
 * canary's text in case a copy was made before encryption. Buckets of the same jurisdiction (a
 * disaster-recovery partner) may hold it. A bucket that cannot be read is `skipped`, with why.
 */
export async function checkBuckets(options: { topology: Topology; buckets: RegionBuckets; canaries: readonly CanaryDocument[]; since: Date }): Promise<Check[]> {
  const { topology, buckets, canaries } = options;
  const checks: Check[] = [];
  const clients = new Map<string, S3Client>();
  const clientOf = (region: RegionConfig, b: RegionBucket) => {
    let c = clients.get(region.id);
    if (!c) {
      c = new S3Client({ region: region.id, ...(b.endpoint ? { endpoint: b.endpoint } : {}), forcePathStyle: b.forcePathStyle ?? false });
      clients.set(region.id, c);
    }
    return c;
  };
  const read = async (client: S3Client, bucket: string, key: string): Promise<Uint8Array | undefined> => {
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  };
  const describe = (c: CanaryDocument) => `canary of ${c.region.id} (${c.region.jurisdiction})`;

  try {
    // 1. Each canary's body where it belongs: its sealed bytes are what a copy would carry.
    const home: HomeObject[] = [];
    for (const canary of canaries) {
      const b = buckets[canary.region.id];
      if (!b) {
        checks.push({ place: 'documents bucket', region: canary.region.id, status: 'skipped', detail: 'no bucket given for this region (--buckets)' });
        continue;
      }
      try {
        const bytes = await read(clientOf(canary.region, b), b.bucket, bodyKeyOf(canary));
        if (bytes) {
          home.push({ canary, sha256: sha256(bytes), size: bytes.length });
          checks.push({ place: `documents bucket ${b.bucket} (home)`, region: canary.region.id, status: 'ok', detail: `the canary's body is at ${bodyKeyOf(canary)}` });
        } else {
          checks.push({
            place: `documents bucket ${b.bucket} (home)`,
            region: canary.region.id,
            status: 'LEAK',
            detail: `the canary's body is not at ${bodyKeyOf(canary)}: this region's API stores bodies elsewhere`,
          });
        }
      } catch (err) {
        checks.push({ place: `documents bucket ${b.bucket} (home)`, region: canary.region.id, status: 'skipped', detail: errorText(err) });
      }
    }

    // 2. Every bucket, for the canaries of other jurisdictions.
    for (const region of topology.regions) {
      const b = buckets[region.id];
      if (!b) continue;
      const foreign = canaries.filter((c) => c.region.jurisdiction !== region.jurisdiction);
      const foreignHome = home.filter((h) => h.canary.region.jurisdiction !== region.jurisdiction);
      const client = clientOf(region, b);
      const place = (key: string) => `documents bucket ${b.bucket} of ${region.id}: object ${key}`;
      const leaks = new Map<string, Set<string>>();
      const leak = (key: string, why: string) => leaks.set(key, (leaks.get(key) ?? new Set()).add(why));
      try {
        const objects: _Object[] = [];
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: b.bucket, ...(token ? { ContinuationToken: token } : {}) }));
          objects.push(...(page.Contents ?? []));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        for (const c of foreign) {
          for (const o of objects) if (o.Key && (o.Key.includes(c.orgId) || o.Key.includes(c.documentId))) leak(o.Key, `${describe(c)}: its key`);
          // The canary's own key, read even if the listing did not show it.
          if (await read(client, b.bucket, bodyKeyOf(c))) leak(bodyKeyOf(c), `${describe(c)}: its key`);
        }
        const sizes = new Set(foreignHome.map((h) => h.size));
        const candidates = objects.filter((o) => o.Key && ((o.Size !== undefined && sizes.has(o.Size)) || (o.LastModified !== undefined && o.LastModified >= options.since)));
        for (const o of candidates) {
          const bytes = await read(client, b.bucket, o.Key!);
          if (!bytes) continue;
          const digest = sha256(bytes);
          for (const h of foreignHome) if (h.sha256 === digest) leak(o.Key!, `${describe(h.canary)}: the same sealed bytes`);
          const text = Buffer.from(bytes);
          for (const c of foreign) if (text.includes(Buffer.from(c.marker))) leak(o.Key!, `${describe(c)}: its text`);
        }
        for (const [key, why] of leaks) checks.push({ place: place(key), region: region.id, status: 'LEAK', detail: [...why].join('; ') });
        if (leaks.size === 0) {
          checks.push({
            place: `documents bucket ${b.bucket}`,
            region: region.id,
            status: 'ok',
            detail: `${objects.length} objects listed, ${candidates.length + foreign.length} read: no canary of another jurisdiction`,
          });
        }
      } catch (err) {
        checks.push({ place: `documents bucket ${b.bucket}`, region: region.id, status: 'skipped', detail: errorText(err) });
      }
    }
  } finally {
    for (const c of clients.values()) c.destroy();
  }
  return checks;
}

function errorText(err: unknown): string {
  return (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 160);
}
