import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadTopology, parseTopology } from '@atlas/core';
import { assertCopyTarget, planBackupCopies } from '../planners/backup.planner';
import { assertPlacement, assertTopologyResidency, jurisdictionOfAwsRegion } from '../planners/residency.planner';
import { topologyArb } from './support/topology.arbitrary';

const topology = loadTopology();

describe('jurisdictionOfAwsRegion', () => {
  it.each([
    ['eu-west-1', 'EU'],
    ['eu-central-1', 'EU'],
    ['us-east-1', 'US'],
    ['ap-southeast-1', 'APAC'],
  ])('%s is %s', (region, jurisdiction) => {
    expect(jurisdictionOfAwsRegion(region)).toBe(jurisdiction);
  });

  it.each(['me-central-1', 'sa-east-1', 'cn-north-1'])('refuses unmapped %s instead of guessing', (region) => {
    expect(() => jurisdictionOfAwsRegion(region)).toThrow(/no jurisdiction mapping/);
  });
});

describe('assertTopologyResidency / assertPlacement', () => {
  it('accepts the default topology', () => {
    expect(topology.regions.map((r) => jurisdictionOfAwsRegion(r.id))).toEqual(topology.regions.map((r) => r.jurisdiction));
    expect(() => assertTopologyResidency(topology)).not.toThrow();
  });

  it('refuses a region declared EU that is physically in the US', () => {
    const bad = parseTopology({ ...topology, regions: topology.regions.map((r) => (r.id === 'us-east-1' ? { ...r, jurisdiction: 'EU' } : r)) });
    expect(() => assertTopologyResidency(bad)).toThrow(/us-east-1 is declared EU but is physically in US/);
  });

  it.each([
    ['EU', 'us-east-1', true],
    ['EU', 'eu-central-1', false],
    ['APAC', 'eu-west-1', true],
  ] as const)('%s data in %s refused=%s', (j, region, refused) => {
    if (refused) expect(() => assertPlacement(j, region, 'bucket')).toThrow(/rule R1/);
    else expect(() => assertPlacement(j, region, 'bucket')).not.toThrow();
  });
});

describe('planBackupCopies', () => {
  it('keeps backups in-region in the default topology (no region shares a jurisdiction)', () => {
    expect(planBackupCopies(topology)).toEqual(topology.regions.map((r) => ({ source: r.id, targets: [] })));
  });

  it('copies EU backups to the EU DR partner once eu-central-1 is added', () => {
    const withPartner = parseTopology({
      ...topology,
      regions: [...topology.regions.map((r) => (r.id === 'eu-west-1' ? { ...r, drPartner: 'eu-central-1' } : r)), { id: 'eu-central-1', code: 'euc1', displayName: 'Frankfurt', jurisdiction: 'EU', apiPort: 8084, dbPort: 54334 }],
      rttMs: { ...topology.rttMs, 'eu-west-1': { ...topology.rttMs['eu-west-1'], 'eu-central-1': 25 }, 'eu-central-1': { 'eu-west-1': 25, 'us-east-1': 90, 'ap-southeast-1': 160 }, 'us-east-1': { ...topology.rttMs['us-east-1'], 'eu-central-1': 90 }, 'ap-southeast-1': { ...topology.rttMs['ap-southeast-1'], 'eu-central-1': 160 } },
    });
    const plans = Object.fromEntries(planBackupCopies(withPartner).map((p) => [p.source, p.targets]));
    expect(plans).toEqual({ 'eu-west-1': ['eu-central-1'], 'eu-central-1': ['eu-west-1'], 'us-east-1': [], 'ap-southeast-1': [] });
  });

  it('assertCopyTarget refuses an EU → US copy', () => {
    expect(() => assertCopyTarget('eu-west-1', 'us-east-1')).toThrow(/would leave EU/);
    expect(() => assertCopyTarget('eu-west-1', 'eu-north-1')).not.toThrow();
  });

  it('property: copy targets never leave the jurisdiction, never the source, DR partner first', () => {
    fc.assert(
      fc.property(topologyArb, fc.integer({ min: 1, max: 3 }), (t, max) => {
        const jurisdiction = new Map(t.regions.map((r) => [r.id, r.jurisdiction]));
        for (const plan of planBackupCopies(t, max)) {
          const source = t.regions.find((r) => r.id === plan.source)!;
          expect(plan.targets.length).toBeLessThanOrEqual(max);
          for (const target of plan.targets) {
            expect(target).not.toBe(plan.source);
            expect(jurisdiction.get(target)).toBe(source.jurisdiction);
            expect(jurisdictionOfAwsRegion(target)).toBe(jurisdictionOfAwsRegion(plan.source));
          }
          if (source.drPartner) expect(plan.targets[0]).toBe(source.drPartner);
          const peers = t.regions.filter((r) => r.id !== source.id && r.jurisdiction === source.jurisdiction).length;
          expect(plan.targets.length).toBe(Math.min(max, peers));
        }
      }),
      { numRuns: 300 },
    );
  });
});
