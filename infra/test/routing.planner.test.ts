import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, type Topology } from '@atlas/core';
import { planCloudflare } from '../planners/cloudflare.planner';
import { planCloudHealth } from '../planners/health.planner';
import { planRoute53 } from '../planners/route53.planner';
import { centralityOrder, failoverOrder } from '../planners/routing.planner';
import { topologyArb } from './support/topology.arbitrary';

const topology = loadTopology();
const naming = { domain: 'origin.atlas.test' };
const health = planCloudHealth(topology, { intervalSeconds: 30 });
const cloudflareFor = (t: Topology) => planCloudflare({ topology: t, health: planCloudHealth(t, { intervalSeconds: 30 }), naming, healthPath: '/health', stack: 'test' });

describe('planCloudHealth', () => {
  it('keeps the topology thresholds and takes the interval from the explicit override', () => {
    expect(topology.health.intervalMs).toBe(1000);
    expect(health).toEqual({ intervalSeconds: 30, downAfter: topology.health.downAfter, upAfter: topology.health.upAfter });
  });

  it.each([1, 5, 60])('refuses a %i s interval that Route 53 cannot probe at', (seconds) => {
    expect(() => planCloudHealth(topology, { intervalSeconds: seconds })).toThrow(/10 or 30/);
  });

  it('refuses thresholds above Route 53 range', () => {
    const strict = parseTopology({ ...topology, health: { intervalMs: 1000, downAfter: 11, upAfter: 2 } });
    expect(() => planCloudHealth(strict, { intervalSeconds: 30 })).toThrow(/1\.\.10/);
  });
});

describe('failoverOrder and centralityOrder (default topology)', () => {
  it.each([
    ['eu-west-1', ['eu-west-1', 'us-east-1', 'ap-southeast-1']],
    ['us-east-1', ['us-east-1', 'eu-west-1', 'ap-southeast-1']],
    ['ap-southeast-1', ['ap-southeast-1', 'eu-west-1', 'us-east-1']],
  ])('%s fails over by round trip', (region, expected) => {
    expect(failoverOrder(topology, region)).toEqual(expected);
  });

  it('puts the region with the lowest mean round trip first', () => {
    // eu-west-1: (68+177)/2 = 122.5 < us-east-1: 141 < ap-southeast-1: 195.5
    expect(centralityOrder(topology)).toEqual(['eu-west-1', 'us-east-1', 'ap-southeast-1']);
  });
});

describe('planCloudflare', () => {
  const plan = cloudflareFor(topology);

  it('has one pool per region, origin = the Route 53 regional name', () => {
    expect(plan.pools).toEqual(topology.regions.map((r) => ({ region: r.id, name: `atlas-test-${r.code}`, originAddress: `${r.code}.origin.atlas.test` })));
  });

  it.each([
    ['DE', 'eu-west-1'],
    ['FR', 'eu-west-1'],
    ['US', 'us-east-1'],
    ['BR', 'us-east-1'],
    ['SG', 'ap-southeast-1'],
    ['JP', 'ap-southeast-1'],
  ])('steers %s to %s first', (country, region) => {
    expect(plan.countryPools[country]?.[0]).toBe(region);
  });

  it('uses the deployed health settings in the monitor', () => {
    expect(plan.monitor).toMatchObject({ intervalSeconds: 30, consecutiveDown: 3, consecutiveUp: 2, path: '/health', type: 'https' });
    expect(plan.monitor.timeoutSeconds).toBeLessThan(plan.monitor.intervalSeconds);
  });

  it('property: every country in the table maps to exactly its region as primary pool, and lists each pool once', () => {
    fc.assert(
      fc.property(topologyArb, (t) => {
        const p = cloudflareFor(t);
        expect(Object.keys(p.countryPools).sort()).toEqual(Object.keys(t.countryRegions).sort());
        for (const [country, pools] of Object.entries(p.countryPools)) {
          expect(pools[0]).toBe(t.countryRegions[country]);
          expect([...pools].sort()).toEqual(t.regions.map((r) => r.id).sort());
        }
        expect(p.defaultPools).toContain(p.fallbackPool);
        expect(new Set(p.pools.map((x) => x.name)).size).toBe(t.regions.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('planRoute53', () => {
  const plan = planRoute53(topology, health, naming, '/health');
  const geo = plan.records.filter((r) => r.geolocationCountry !== undefined);

  it('guards every regional record with that region health check at 30 s', () => {
    expect(plan.healthChecks.map((h) => [h.region, h.fqdn, h.requestIntervalSeconds, h.failureThreshold])).toEqual(topology.regions.map((r) => [r.id, `${r.code}.origin.atlas.test`, 30, 3]));
    const regional = plan.records.filter((r) => r.target.kind === 'alb');
    expect(regional.map((r) => [r.name, r.healthCheckRegion])).toEqual(topology.regions.map((r) => [`${r.code}.origin.atlas.test`, r.id]));
  });

  it('has one latency record per region, each pointing at that region', () => {
    const latency = plan.records.filter((r) => r.latencyRegion);
    expect(latency.map((r) => [r.latencyRegion, r.target])).toEqual(topology.regions.map((r) => [r.id, { kind: 'record', name: `${r.code}.origin.atlas.test` }]));
  });

  it.each([
    ['IE', 'euw1.origin.atlas.test'],
    ['CA', 'use1.origin.atlas.test'],
    ['AU', 'apse1.origin.atlas.test'],
    ['*', 'latency.origin.atlas.test'],
  ])('geolocation %s → %s', (country, target) => {
    expect(geo.find((r) => r.geolocationCountry === country)?.target).toEqual({ kind: 'record', name: target });
  });

  it('property: one geolocation record per country plus the default, set identifiers unique', () => {
    fc.assert(
      fc.property(topologyArb, (t) => {
        const p = planRoute53(t, planCloudHealth(t, { intervalSeconds: 10 }), naming, '/health');
        const countries = p.records.flatMap((r) => (r.geolocationCountry ? [r.geolocationCountry] : []));
        expect(countries.sort()).toEqual([...Object.keys(t.countryRegions), '*'].sort());
        const ids = p.records.flatMap((r) => (r.setIdentifier ? [`${r.name}/${r.setIdentifier}`] : []));
        expect(new Set(ids).size).toBe(ids.length);
        const code = new Map(t.regions.map((r) => [r.id, r.code]));
        for (const r of p.records.filter((x) => x.geolocationCountry && x.geolocationCountry !== '*')) {
          expect(r.target).toEqual({ kind: 'record', name: `${code.get(t.countryRegions[r.geolocationCountry!]!)}.origin.atlas.test` });
        }
      }),
      { numRuns: 200 },
    );
  });
});
