import { describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, type TopologyInput } from '../src/topology';
import { homeRegionOfOrg, isOrgId, newOrgId } from '../src/ids';
import { ERROR_CODES, httpStatusOf } from '../src/errors';

const base = (): TopologyInput => structuredClone(loadTopology()) as unknown as TopologyInput;

describe('topology', () => {
  it('loads the default three regions, one per jurisdiction, frozen', () => {
    const t = loadTopology();
    expect(t.regions.map((r) => [r.id, r.jurisdiction])).toEqual([
      ['eu-west-1', 'EU'],
      ['us-east-1', 'US'],
      ['ap-southeast-1', 'APAC'],
    ]);
    expect(Object.isFrozen(t.regions[0])).toBe(true);
    expect(() => ((t.regions[0] as { apiPort: number }).apiPort = 1)).toThrow();
  });

  it('has a symmetric round-trip matrix covering every pair', () => {
    const t = loadTopology();
    for (const a of t.regions) for (const b of t.regions) if (a !== b) expect(t.rttMs[a.id]![b.id]).toBe(t.rttMs[b.id]![a.id]);
  });

  it('maps countries to known regions', () => {
    const t = loadTopology();
    expect(t.countryRegions.FR).toBe('eu-west-1');
    expect(t.countryRegions.US).toBe('us-east-1');
    expect(t.countryRegions.SG).toBe('ap-southeast-1');
  });

  const bad: Array<[string, (t: TopologyInput) => void, RegExp]> = [
    ['a port that is not a number', (t) => ((t.regions[0] as { apiPort: unknown }).apiPort = '8081'), /\/regions\/0\/apiPort/],
    ['an unknown jurisdiction', (t) => ((t.regions[1] as { jurisdiction: string }).jurisdiction = 'MARS'), /\/regions\/1\/jurisdiction/],
    ['a duplicate region id', (t) => (t.regions[1]!.id = t.regions[0]!.id), /\/regions\/1\/id: duplicate region/],
    ['a duplicate code', (t) => (t.regions[2]!.code = t.regions[0]!.code), /\/regions\/2\/code/],
    ['two regions on one port', (t) => (t.regions[1]!.dbPort = t.regions[0]!.apiPort), /\/regions\/1\/dbPort: port 8081 already used by eu-west-1.apiPort/],
    ['a missing round trip', (t) => delete (t.rttMs['us-east-1'] as Record<string, number>)['ap-southeast-1'], /\/rttMs\/us-east-1\/ap-southeast-1: missing/],
    ['a country mapped to an unknown region', (t) => ((t.countryRegions as Record<string, string>).FR = 'eu-north-9'), /\/countryRegions\/FR: unknown region/],
    ['a partner in another jurisdiction (rule R2)', (t) => (t.regions[0]!.drPartner = 'us-east-1'), /\/regions\/0\/drPartner: .*rule R2/],
    ['an unknown field', (t) => ((t as unknown as Record<string, unknown>).colour = 'blue'), /\(root\)|colour/],
    ['no regions', (t) => (t.regions = []), /\/regions/],
  ];
  it.each(bad)('refuses %s, naming the field', (_name, mutate, message) => {
    const t = base();
    mutate(t);
    expect(() => parseTopology(t)).toThrow(message);
  });

  it('accepts a same-jurisdiction disaster-recovery partner', () => {
    const t = base();
    t.regions.push({ id: 'eu-central-1', code: 'euc1', displayName: 'Europe (Frankfurt)', jurisdiction: 'EU', apiPort: 8084, dbPort: 54334 });
    t.regions[0]!.drPartner = 'eu-central-1';
    const rtt = t.rttMs as Record<string, Record<string, number>>;
    rtt['eu-central-1'] = { 'eu-west-1': 25, 'us-east-1': 90, 'ap-southeast-1': 160 };
    rtt['eu-west-1']!['eu-central-1'] = 25;
    rtt['us-east-1']!['eu-central-1'] = 90;
    rtt['ap-southeast-1']!['eu-central-1'] = 160;
    expect(parseTopology(t).regions[0]!.drPartner).toBe('eu-central-1');
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadTopology('/nonexistent/topology.json')).toThrow(/cannot read \/nonexistent\/topology.json/);
  });
});

describe('organization ids', () => {
  it('carry the home region so any node can route without a look-up', () => {
    const t = loadTopology();
    for (const region of t.regions) {
      const id = newOrgId(region);
      expect(isOrgId(id)).toBe(true);
      expect(homeRegionOfOrg(t, id)?.id).toBe(region.id);
    }
  });

  it('are unique and reject malformed or unknown-region ids', () => {
    const t = loadTopology();
    const ids = new Set(Array.from({ length: 1000 }, () => newOrgId(t.regions[0]!)));
    expect(ids.size).toBe(1000);
    for (const id of ['', 'org_euw1_', 'org_euw1_SHORT', 'org_zzz9_0123456789abcdefghjk', 'org_euw1_0123456789abcdefghjkl', 'org_euw1_0123456789abcdefghji']) {
      expect(homeRegionOfOrg(t, id), id).toBeUndefined();
    }
  });
});

describe('error catalogue', () => {
  it('maps every code to a 4xx or 5xx, 421 for the wrong region', () => {
    for (const code of ERROR_CODES) {
      const status = httpStatusOf(code);
      expect(status >= 400 && status < 600).toBe(true);
    }
    expect(httpStatusOf('ATLAS_ERR_WRONG_REGION')).toBe(421);
    expect(httpStatusOf('ATLAS_ERR_REGION_UNAVAILABLE')).toBe(503);
  });
});
