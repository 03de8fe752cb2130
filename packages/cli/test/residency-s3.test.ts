import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTopology } from '@atlas/core';
import { residencyVerify, type Check } from '../src/commands/residency';
import { parseBucketsOption, type RegionBuckets } from '../src/commands/residency-buckets';
import { S3TestServer, useTestCredentials } from '../../../test/support/s3-server';
import { ListeningApps, freshApiConfig } from '../../../test/support/fresh-apps';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';

const ACCESS_KEY = 'AKIAATLASTESTKEY0003';
const BUCKETS = { 'eu-west-1': 'atlas-test-euw1-docs', 'us-east-1': 'atlas-test-use1-docs', 'ap-southeast-1': 'atlas-test-apse1-docs' } as const;
type RegionId = keyof typeof BUCKETS;

/** A running three-region cluster of its own whose APIs keep document bodies in S3 buckets (the local S3 server). */
describe('atlas residency verify with documents buckets', { timeout: 120_000 }, () => {
  let fresh: FreshRegions;
  let s3: S3TestServer;
  const apps = new ListeningApps();
  let restoreEnv: () => void = () => undefined;
  const lines: string[] = [];
  let buckets: RegionBuckets;

  /** Starts a region's API; `bucketOf` is the region whose bucket it is (mis)configured with. */
  const start = (regionId: RegionId, bucketOf: RegionId = regionId) =>
    apps.start({ ...freshApiConfig(fresh, regionId), documentsBucket: { bucket: BUCKETS[bucketOf], region: bucketOf, endpoint: s3.endpoint, forcePathStyle: true } });
  const stop = (regionId: string) => apps.stop(regionId);
  const verify = () => residencyVerify({ home: fresh.home, topology: fresh.topology, log: (l) => lines.push(l), buckets });
  const leaks = (checks: Check[]) => checks.filter((c) => c.status === 'LEAK');
  const allKeys = () => Object.values(BUCKETS).flatMap((b) => s3.keys(b));

  beforeAll(async () => {
    s3 = await S3TestServer.start({ buckets: Object.values(BUCKETS), accessKeyId: ACCESS_KEY });
    restoreEnv = useTestCredentials(ACCESS_KEY);
    fresh = await startFreshRegions(3, { prefix: 'atlas-residency-s3-' });
    buckets = parseBucketsOption(JSON.stringify(BUCKETS), fresh.topology, s3.endpoint);
    for (const r of fresh.topology.regions) await start(r.id as RegionId);
  });
  afterAll(async () => {
    await apps.stopAll();
    await fresh?.stop();
    await s3?.close();
    restoreEnv();
  });

  it('passes when each canary body is in its home bucket only (list + get), and removes the canaries\' bodies', async () => {
    const { code, checks } = await verify();
    expect(leaks(checks)).toEqual([]);
    expect(code).toBe(0);
    for (const [region, bucket] of Object.entries(BUCKETS)) {
      expect(checks.find((c) => c.region === region && c.place === `documents bucket ${bucket} (home)`)?.status, region).toBe('ok');
      const scan = checks.find((c) => c.region === region && c.place === `documents bucket ${bucket}`);
      expect(scan?.status, region).toBe('ok');
      // Its own canary listed; the two foreign canaries' keys read.
      expect(scan!.detail).toMatch(/^1 objects listed, [2-9] read/);
    }
    // Every bucket was listed, and each foreign canary's key was asked for in it.
    for (const bucket of Object.values(BUCKETS)) {
      expect(s3.requests.some((q) => q.method === 'GET' && (q.path === `/${bucket}` || q.path === `/${bucket}/`))).toBe(true);
      expect(s3.requests.filter((q) => q.method === 'GET' && q.path.startsWith(`/${bucket}/`) && q.path.length > bucket.length + 2).length).toBeGreaterThanOrEqual(2);
    }
    expect(allKeys()).toEqual([]);
  });

  it('names the other jurisdiction\'s bucket and the object when a region\'s API writes bodies there, and passes once undone', async () => {
    // eu-west-1 configured with the US bucket (a wrong ATLAS_DOCUMENTS_BUCKET).
    await stop('eu-west-1');
    await start('eu-west-1', 'us-east-1');
    try {
      const bad = await verify();
      expect(bad.code).toBe(1);
      const found = leaks(bad.checks);
      const inUs = found.find((c) => c.place.startsWith(`documents bucket ${BUCKETS['us-east-1']} of us-east-1: object eu-west-1/org_euw1_`));
      expect(inUs, JSON.stringify(found)).toBeDefined();
      expect(inUs!.detail).toContain('canary of eu-west-1 (EU)');
      expect(found.find((c) => c.place === `documents bucket ${BUCKETS['eu-west-1']} (home)`)?.detail).toContain('stores bodies elsewhere');
      expect(lines.at(-1)).toContain(`RESIDENCY LEAK at`);
      expect(lines.at(-1)).toContain(`documents bucket ${BUCKETS['us-east-1']} of us-east-1`);
    } finally {
      await stop('eu-west-1');
      await start('eu-west-1');
    }
    expect(allKeys()).toEqual([]);
    expect((await verify()).code).toBe(0);
  });

  it('finds a copy under another key by its bytes (a replication rule to another jurisdiction), and passes once undone', async () => {
    const renamed = (key: string) => `replica/${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    const undo = s3.replicate(BUCKETS['eu-west-1'], BUCKETS['ap-southeast-1'], renamed);
    try {
      const bad = await verify();
      expect(bad.code).toBe(1);
      const found = leaks(bad.checks);
      expect(found.map((c) => c.region)).toEqual(['ap-southeast-1']);
      expect(found[0]!.place).toMatch(new RegExp(`^documents bucket ${BUCKETS['ap-southeast-1']} of ap-southeast-1: object replica/[0-9a-f]{16}$`));
      expect(found[0]!.detail).toBe('canary of eu-west-1 (EU): the same sealed bytes');
    } finally {
      undo();
    }
    for (const key of s3.keys(BUCKETS['ap-southeast-1'])) s3.remove(BUCKETS['ap-southeast-1'], key);
    expect((await verify()).code).toBe(0);
  });
});

describe('--buckets', () => {
  const topology = loadTopology();

  it('reads region → bucket, with the endpoint addressed in the path', () => {
    expect(parseBucketsOption('{"eu-west-1":"atlas-prod-euw1-docs-1"}', topology)).toEqual({ 'eu-west-1': { bucket: 'atlas-prod-euw1-docs-1' } });
    expect(parseBucketsOption('{"eu-west-1":"atlas-prod-euw1-docs-1"}', topology, 'http://127.0.0.1:9000')).toEqual({
      'eu-west-1': { bucket: 'atlas-prod-euw1-docs-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true },
    });
  });

  it.each([
    ['[]', undefined, 'expected a JSON object'],
    ['{"eu-west-1":', undefined, 'expected a JSON object'],
    ['{"mars-1":"b-b-b"}', undefined, 'mars-1 is not a region of the topology'],
    ['{"eu-west-1":"Not_A_Bucket"}', undefined, 'eu-west-1: "Not_A_Bucket" is not a bucket name'],
    ['{"eu-west-1":"atlas-docs"}', 'ftp://x', '--s3-endpoint: ftp://x is not an http(s) origin'],
  ])('refuses %s by name', (text, endpoint, message) => {
    expect(() => parseBucketsOption(text, topology, endpoint)).toThrow(message);
  });
});
