import {
  UNKNOWN_HEALTH,
  applyCheck,
  homeOfOrg,
  regionsAllowedFor,
  scopeOf,
  selectRegion,
  type RegionHealth,
  type RegionInfo,
} from './regions';
import { REGIONS } from './testing';

const T = { downAfter: 2, upAfter: 2, ewmaAlpha: 0.5 };
const up = (latencyMs: number): RegionHealth => ({ ...UNKNOWN_HEALTH, state: 'up', latencyMs });
const down: RegionHealth = { ...UNKNOWN_HEALTH, state: 'down' };

describe('region logic', () => {
  it('classifies requests as the edge does: below /api/orgs/:id/ is regional', () => {
    expect(scopeOf('/api/orgs')).toEqual({ kind: 'global' });
    expect(scopeOf('/api/orgs/org_euw1_abc')).toEqual({ kind: 'global' });
    expect(scopeOf('/api/orgs/org_euw1_abc/dossiers?q=x')).toEqual({ kind: 'regional', orgId: 'org_euw1_abc' });
    expect(scopeOf('http://127.0.0.1:8080/api/orgs/org_use1_x/')).toEqual({ kind: 'regional', orgId: 'org_use1_x' });
    expect(scopeOf('/api/regions/current')).toEqual({ kind: 'global' });
  });

  it('finds the home region from the code in the organization id, and its same-jurisdiction partner only', () => {
    expect(homeOfOrg(REGIONS, 'org_apse1_aaaaaaaaaaaaaaaaaaaa')?.region).toBe('ap-southeast-1');
    expect(homeOfOrg(REGIONS, 'org_zzz9_aaaaaaaaaaaaaaaaaaaa')).toBeUndefined();
    const withPartners: RegionInfo[] = [
      { ...REGIONS[0]!, drPartner: 'eu-central-1' },
      { ...REGIONS[0]!, region: 'eu-central-1', code: 'euc1', drPartner: 'eu-west-1' },
      { ...REGIONS[1]!, drPartner: 'eu-west-1' },
    ];
    expect(regionsAllowedFor(withPartners, withPartners[0]!).map((r) => r.region)).toEqual(['eu-west-1', 'eu-central-1']);
    // A partner abroad is never allowed, even if the topology named one.
    expect(regionsAllowedFor(withPartners, withPartners[2]!).map((r) => r.region)).toEqual(['us-east-1']);
  });

  it('applies checks with hysteresis and an EWMA of latency', () => {
    let h = applyCheck(UNKNOWN_HEALTH, { ok: true, rttMs: 100 }, T, 1);
    expect(h).toMatchObject({ state: 'up', latencyMs: 100 });
    h = applyCheck(h, { ok: true, rttMs: 200 }, T, 2);
    expect(h.latencyMs).toBe(150);
    h = applyCheck(h, { ok: false, error: 'x' }, T, 3);
    expect(h.state).toBe('up');
    h = applyCheck(h, { ok: false, error: 'y' }, T, 4);
    expect(h).toMatchObject({ state: 'down', lastError: 'y', consecutiveFailures: 2 });
    h = applyCheck(h, { ok: true, rttMs: 100 }, T, 5);
    expect(h.state).toBe('down');
    h = applyCheck(h, { ok: true, rttMs: 100 }, T, 6);
    expect(h.state).toBe('up');
    // A region never seen up is down at its first failure: nothing to protect from flapping.
    expect(applyCheck(UNKNOWN_HEALTH, { ok: false, error: 'z' }, T, 1).state).toBe('down');
  });

  it('switches away from an up region only for one faster by the margin', () => {
    const base = { regions: REGIONS, manual: false, detected: null, switchMargin: 0.3, current: 'us-east-1' };
    expect(selectRegion({ ...base, health: { 'eu-west-1': up(80), 'us-east-1': up(100), 'ap-southeast-1': up(300) } })).toEqual({
      region: 'us-east-1',
      reason: 'kept',
    });
    expect(selectRegion({ ...base, health: { 'eu-west-1': up(60), 'us-east-1': up(100), 'ap-southeast-1': up(300) } })).toEqual({
      region: 'eu-west-1',
      reason: 'latency',
    });
    expect(selectRegion({ ...base, health: { 'eu-west-1': up(80), 'us-east-1': down, 'ap-southeast-1': up(30) } })).toEqual({
      region: 'ap-southeast-1',
      reason: 'failover',
    });
    expect(selectRegion({ ...base, health: { 'eu-west-1': down, 'us-east-1': down, 'ap-southeast-1': down } })).toEqual({
      region: null,
      reason: 'none-healthy',
    });
    expect(selectRegion({ ...base, current: null, health: { 'eu-west-1': up(80), 'us-east-1': up(20), 'ap-southeast-1': down } })).toEqual({
      region: 'us-east-1',
      reason: 'latency',
    });
  });

  it('keeps a manual choice while it is up, even when slower', () => {
    const health = { 'eu-west-1': up(10), 'us-east-1': up(100), 'ap-southeast-1': up(300) };
    expect(
      selectRegion({ regions: REGIONS, health, current: 'ap-southeast-1', manual: true, detected: 'eu-west-1', switchMargin: 0.3 }),
    ).toEqual({ region: 'ap-southeast-1', reason: 'manual' });
  });
});
