import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideReplay, decideRoute, findRegion, type HealthState, type RouteRequest, type Topology } from '../src/index';
import { DEFAULT, WITH_PARTNER } from './routing.fixtures';

const TOPOLOGIES = [DEFAULT, WITH_PARTNER] as const;
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A topology, a health state for each of its regions, latencies, and a request. */
const scenario = fc.constantFrom(...TOPOLOGIES).chain((topology: Topology) =>
  fc.record({
    topology: fc.constant(topology),
    health: fc.tuple(...topology.regions.map((r) => fc.tuple(fc.constant(r.id), fc.constantFrom<HealthState>('up', 'down')))),
    latency: fc.tuple(
      ...topology.regions.map((r) =>
        fc.tuple(fc.constant(r.id), fc.option(fc.double({ min: 0, max: 500, noNaN: true }), { nil: undefined })),
      ),
    ),
    home: fc.constantFrom(...topology.regions),
    suffix: fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 20, maxLength: 20 }),
    dataClass: fc.constantFrom('regional' as const, 'global' as const),
    country: fc.option(fc.constantFrom('FR', 'US', 'SG', 'DE', 'AQ', 'JP'), { nil: undefined }),
    hint: fc.option(fc.constantFrom(...topology.regions.map((r) => r.id), 'mars-1'), { nil: undefined }),
  }),
);

describe('routing properties', () => {
  it('regional data of an organization never leaves its jurisdiction, whatever the health state', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const view = { topology: s.topology, health: Object.fromEntries(s.health), latencyMs: Object.fromEntries(s.latency) };
        const request: RouteRequest = {
          dataClass: 'regional',
          orgId: `org_${s.home.code}_${s.suffix}`,
          country: s.country,
          homeRegionHint: s.hint,
        };
        const d = decideRoute(view, request);
        if (d.kind === 'route') {
          expect(findRegion(s.topology, d.region)!.jurisdiction).toBe(s.home.jurisdiction);
          expect(view.health[d.region]).toBe('up');
        } else {
          expect(d.reason).toBe('unavailable:regional');
        }
        // And the same holds for a 421 replay naming the home.
        const r = decideReplay(view, s.home.id, false)!;
        if (r.kind === 'route') expect(findRegion(s.topology, r.region)!.jurisdiction).toBe(s.home.jurisdiction);
        else expect(r.reason).toBe('unavailable:regional');
      }),
      { numRuns: 1000 },
    );
  });

  it('a healthy home always serves its organization; a down home never does', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const view = { topology: s.topology, health: Object.fromEntries(s.health), latencyMs: Object.fromEntries(s.latency) };
        const d = decideRoute(view, { dataClass: s.dataClass, orgId: `org_${s.home.code}_${s.suffix}`, country: s.country });
        if (view.health[s.home.id] === 'up') expect(d).toMatchObject({ kind: 'route', region: s.home.id, reason: 'org-home' });
        else expect(d.kind === 'route' ? d.region : null).not.toBe(s.home.id);
      }),
      { numRuns: 1000 },
    );
  });

  it('global data is served whenever any region is up, and only by an up region', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const view = { topology: s.topology, health: Object.fromEntries(s.health), latencyMs: Object.fromEntries(s.latency) };
        const anyUp = s.health.some(([, h]) => h === 'up');
        const d = decideRoute(view, {
          dataClass: 'global',
          orgId: `org_${s.home.code}_${s.suffix}`,
          country: s.country,
          homeRegionHint: s.hint,
        });
        expect(d.kind).toBe(anyUp ? 'route' : 'unavailable');
        if (d.kind === 'route') expect(view.health[d.region]).toBe('up');
        const free = decideRoute(view, { dataClass: 'global', country: s.country, homeRegionHint: s.hint });
        expect(free.kind).toBe(anyUp ? 'route' : 'unavailable');
      }),
      { numRuns: 1000 },
    );
  });

  it('every decision names a reason from the catalogue', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const view = { topology: s.topology, health: Object.fromEntries(s.health), latencyMs: Object.fromEntries(s.latency) };
        const d = decideRoute(view, { dataClass: s.dataClass, country: s.country, homeRegionHint: s.hint });
        expect(d.reason).toMatch(
          /^(org-home|token-home|country:[A-Z]{2}|latency|failover:global|failover:dr-partner|unavailable:(regional|no-healthy-region))$/,
        );
      }),
    );
  });
});
