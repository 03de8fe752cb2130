import fc from 'fast-check';
import { parseTopology, type Jurisdiction, type Topology } from '@atlas/core';

/** Real AWS regions with their true jurisdictions, so generated topologies are deployable. */
export const AWS_REGIONS: ReadonlyArray<readonly [string, Jurisdiction]> = [
  ['eu-west-1', 'EU'],
  ['eu-central-1', 'EU'],
  ['eu-north-1', 'EU'],
  ['us-east-1', 'US'],
  ['us-west-2', 'US'],
  ['ap-southeast-1', 'APAC'],
  ['ap-northeast-1', 'APAC'],
  ['ap-south-1', 'APAC'],
];

const COUNTRIES = ['DE', 'FR', 'IE', 'US', 'CA', 'BR', 'SG', 'JP', 'IN', 'AU', 'ZA', 'GB', 'MX', 'KR', 'NL'];

/** Valid topologies (they pass parseTopology): 1–6 regions, random RTTs, random country table. */
export const topologyArb: fc.Arbitrary<Topology> = fc
  .subarray([...AWS_REGIONS], { minLength: 1, maxLength: 6 })
  .chain((regions) =>
    fc.record({
      regions: fc.constant(regions),
      rtts: fc.array(fc.integer({ min: 1, max: 400 }), { minLength: regions.length * regions.length, maxLength: regions.length * regions.length }),
      countries: fc.dictionary(fc.constantFrom(...COUNTRIES), fc.integer({ min: 0, max: regions.length - 1 })),
      partners: fc.array(fc.boolean(), { minLength: regions.length, maxLength: regions.length }),
      health: fc.record({ intervalMs: fc.integer({ min: 100, max: 5000 }), downAfter: fc.integer({ min: 1, max: 10 }), upAfter: fc.integer({ min: 1, max: 10 }) }),
    }),
  )
  .map(({ regions, rtts, countries, partners, health }) => {
    const rttMs: Record<string, Record<string, number>> = {};
    regions.forEach(([a], i) => {
      rttMs[a] = {};
      regions.forEach(([b], j) => {
        if (a !== b) rttMs[a]![b] = rtts[Math.min(i, j) * regions.length + Math.max(i, j)]!;
      });
    });
    return parseTopology({
      regions: regions.map(([id, jurisdiction], i) => {
        const partner = regions.find(([other, j]) => other !== id && j === jurisdiction);
        return {
          id,
          code: `r${i}`,
          displayName: id,
          jurisdiction,
          apiPort: 8100 + i,
          dbPort: 55000 + i,
          ...(partners[i] && partner ? { drPartner: partner[0] } : {}),
        };
      }),
      rttMs,
      countryRegions: Object.fromEntries(Object.entries(countries).map(([c, i]) => [c, regions[i]![0]])),
      health,
    });
  });
