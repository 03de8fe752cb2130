import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTopology } from '@atlas/core';
import type { FailoverView } from '@atlas/orchestrator';
import { configFromEnv } from '../src/config';
import { drDecision } from '../src/plugins/residency-dr';

const topology = parseTopology({
  regions: [
    { id: 'eu-west-1', code: 'euw1', displayName: 'Ireland', jurisdiction: 'EU', apiPort: 18081, dbPort: 15431, drPartner: 'eu-central-1' },
    { id: 'eu-central-1', code: 'euc1', displayName: 'Frankfurt', jurisdiction: 'EU', apiPort: 18082, dbPort: 15432 },
    { id: 'us-east-1', code: 'use1', displayName: 'Virginia', jurisdiction: 'US', apiPort: 18083, dbPort: 15433 },
  ],
  rttMs: {
    'eu-west-1': { 'eu-central-1': 25, 'us-east-1': 68 },
    'eu-central-1': { 'eu-west-1': 25, 'us-east-1': 90 },
    'us-east-1': { 'eu-west-1': 68, 'eu-central-1': 90 },
  },
  countryRegions: {},
  health: { intervalMs: 1000, downAfter: 3, upAfter: 2 },
});
const region = (id: string) => topology.regions.find((r) => r.id === id)!;
const view = (phase: string, primaryHost: string): FailoverView => ({
  region: 'eu-west-1',
  phase,
  zeroLoss: 'suspended',
  message: '',
  primaryHost,
  standbyHost: 'eu-central-1',
  since: new Date(0).toISOString(),
});

/** What a DR partner does with a request for its partnered region's organization (rule R2). */
describe('drDecision', () => {
  it('serves once the promoted standby is the primary here, whatever the phase', () => {
    for (const phase of ['failed-over', 'recovering', 'healthy', 'standby-lost']) {
      expect(drDecision('eu-central-1', region('eu-west-1'), view(phase, 'eu-central-1'), true), phase).toBe('serve');
    }
  });

  it('answers unavailable while the home region is failing over, or when it cannot reach the promoted database', () => {
    for (const phase of ['suspect', 'failed', 'promoting', 'down']) {
      expect(drDecision('eu-central-1', region('eu-west-1'), view(phase, 'eu-west-1'), true), phase).toBe('unavailable');
    }
    expect(drDecision('eu-central-1', region('eu-west-1'), view('failed-over', 'eu-central-1'), false)).toBe('unavailable');
  });

  it('leaves the request to the 421 guard when the home runs its own primary, the orchestrator is silent, or it is not the partner', () => {
    expect(drDecision('eu-central-1', region('eu-west-1'), view('healthy', 'eu-west-1'), true)).toBe('not-ours');
    expect(drDecision('eu-central-1', region('eu-west-1'), undefined, true)).toBe('not-ours');
    // us-east-1 names no partner: no other region ever serves its organizations.
    expect(drDecision('eu-central-1', region('us-east-1'), { ...view('failed-over', 'eu-central-1'), region: 'us-east-1' }, true)).toBe('not-ours');
    expect(drDecision('us-east-1', region('eu-west-1'), view('failed-over', 'us-east-1'), true)).toBe('not-ours');
  });
});

describe('ATLAS_DR_REGIONS', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const key = () => randomBytes(32).toString('base64');
  const entry = { databaseUrl: 'postgres://atlas_app:pw@127.0.0.1:16431/atlas', documentKey: key() };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'atlas-dr-config-'));
    const file = join(dir, 'topology.json');
    await writeFile(file, JSON.stringify(topology));
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    env = {
      ATLAS_TOPOLOGY: file,
      ATLAS_HOME: dir,
      DATABASE_URL: 'postgres://atlas_app:pw@127.0.0.1:15432/atlas',
      ATLAS_DOCUMENT_KEY: key(),
      ATLAS_BLIND_INDEX_KEY: 'a-blind-index-key-of-length',
      ATLAS_AUTH_PUBLIC_KEY: JSON.stringify(publicKey.export({ format: 'jwk' })),
      ATLAS_AUDIT_SIGNING_KEY: JSON.stringify(privateKey.export({ format: 'jwk' })),
    };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the partner the standby address and document key of the regions that name it', () => {
    const config = configFromEnv({ ...env, ATLAS_REGION: 'eu-central-1', ATLAS_DR_REGIONS: JSON.stringify({ 'eu-west-1': entry }) });
    expect(config.drRegions?.['eu-west-1']?.databaseUrl).toBe(entry.databaseUrl);
    expect(config.drRegions?.['eu-west-1']?.documentKey).toEqual(Buffer.from(entry.documentKey, 'base64'));
  });

  it('refuses at start a region that does not name this one as its partner, or a bad entry, by variable name', () => {
    expect(() => configFromEnv({ ...env, ATLAS_REGION: 'us-east-1', ATLAS_DR_REGIONS: JSON.stringify({ 'eu-west-1': entry }) })).toThrow(
      /ATLAS_DR_REGIONS: eu-west-1 does not name us-east-1 as its disaster-recovery partner/,
    );
    expect(() => configFromEnv({ ...env, ATLAS_REGION: 'eu-central-1', ATLAS_DR_REGIONS: JSON.stringify({ 'eu-west-1': { ...entry, databaseUrl: 'mysql://x' } }) })).toThrow(
      /ATLAS_DR_REGIONS: eu-west-1.databaseUrl/,
    );
    expect(() => configFromEnv({ ...env, ATLAS_REGION: 'eu-central-1', ATLAS_DR_REGIONS: '{not json' })).toThrow(/ATLAS_DR_REGIONS: must be a JSON object/);
  });
});
