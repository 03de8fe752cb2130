import { describe, expect, it } from 'vitest';
import { classifyPath, countryOf, decideReplay, decideRoute, type RouteRequest } from '../src/index';
import { DEFAULT, WITH_PARTNER, orgOf, view } from './routing.fixtures';

const EU = orgOf('euw1');
const US = orgOf('use1');

describe('classifyPath', () => {
  it.each([
    ['/api/orgs', { dataClass: 'global' }],
    ['/api/orgs?limit=5', { dataClass: 'global' }],
    [`/api/orgs/${EU}`, { dataClass: 'global', orgId: EU }],
    [`/api/orgs/${EU}?x=1`, { dataClass: 'global', orgId: EU }],
    [`/api/orgs/${EU}/dossiers`, { dataClass: 'regional', orgId: EU }],
    [`/api/orgs/${EU}/dossiers/abc?limit=1`, { dataClass: 'regional', orgId: EU }],
    [`/api/orgs/${EU}/`, { dataClass: 'regional', orgId: EU }],
    [`/api/orgs/${EU.replace('_', '%5F')}/dossiers`, { dataClass: 'regional', orgId: EU }],
    ['/api/orgs/%E0%A4%A/dossiers', { dataClass: 'regional', orgId: '%E0%A4%A' }],
    ['/api/users/usr_1/preferences', { dataClass: 'global' }],
    ['/api/referential/countries', { dataClass: 'global' }],
    ['/healthz', { dataClass: 'global' }],
  ])('%s', (url, expected) => expect(classifyPath(url)).toEqual(expected));
});

describe('countryOf', () => {
  it.each([
    [{ 'cf-ipcountry': 'fr' }, undefined, 'FR'],
    [{ 'cloudfront-viewer-country': 'SG' }, undefined, 'SG'],
    [{ 'cf-ipcountry': 'DE', 'cloudfront-viewer-country': 'US' }, 'JP', 'DE'],
    [{ 'cf-ipcountry': 'XX' }, 'BR', 'BR'],
    [{ 'cf-ipcountry': 'T1' }, undefined, undefined],
    [{}, 'us', 'US'],
    [{}, null, undefined],
    [{ 'cf-ipcountry': ['IE', 'GB'] }, undefined, 'IE'],
  ] as const)('%j + ip %s → %s', (headers, ip, expected) => expect(countryOf(headers, ip)).toBe(expected));
});

type Row = [string, ReturnType<typeof view>, RouteRequest, { region?: string; reason: string }];

describe('decideRoute', () => {
  const rows: Row[] = [
    [
      'org home wins over country',
      view(DEFAULT),
      { dataClass: 'regional', orgId: EU, country: 'US' },
      { region: 'eu-west-1', reason: 'org-home' },
    ],
    ['org home for the org row (global)', view(DEFAULT), { dataClass: 'global', orgId: US }, { region: 'us-east-1', reason: 'org-home' }],
    [
      'path org wins over token',
      view(DEFAULT),
      { dataClass: 'regional', orgId: EU, homeRegionHint: 'us-east-1' },
      { region: 'eu-west-1', reason: 'org-home' },
    ],
    [
      "the client's chosen region for global data, over token and country",
      view(DEFAULT),
      { dataClass: 'global', clientRegion: 'us-east-1', homeRegionHint: 'eu-west-1', country: 'FR' },
      { region: 'us-east-1', reason: 'client-choice' },
    ],
    [
      "the client's choice never moves an organization's regional data",
      view(DEFAULT),
      { dataClass: 'regional', orgId: EU, clientRegion: 'us-east-1' },
      { region: 'eu-west-1', reason: 'org-home' },
    ],
    [
      'an unknown chosen region is ignored',
      view(DEFAULT),
      { dataClass: 'global', clientRegion: 'mars-1', country: 'SG' },
      { region: 'ap-southeast-1', reason: 'country:SG' },
    ],
    [
      'a chosen region that is down fails over like any global preference',
      view(DEFAULT, ['us-east-1']),
      { dataClass: 'global', clientRegion: 'us-east-1' },
      { region: 'eu-west-1', reason: 'failover:global' },
    ],
    [
      'token home without org in path',
      view(DEFAULT),
      { dataClass: 'global', homeRegionHint: 'ap-southeast-1', country: 'FR' },
      { region: 'ap-southeast-1', reason: 'token-home' },
    ],
    [
      'unknown token region ignored',
      view(DEFAULT),
      { dataClass: 'global', homeRegionHint: 'mars-1', country: 'FR' },
      { region: 'eu-west-1', reason: 'country:FR' },
    ],
    ['country', view(DEFAULT), { dataClass: 'global', country: 'SG' }, { region: 'ap-southeast-1', reason: 'country:SG' }],
    [
      'malformed org id falls back to country',
      view(DEFAULT),
      { dataClass: 'regional', orgId: 'org_zz_nope', country: 'US' },
      { region: 'us-east-1', reason: 'country:US' },
    ],
    [
      'unmapped country falls back to latency',
      view(DEFAULT, [], { 'eu-west-1': 9, 'us-east-1': 3, 'ap-southeast-1': 5 }),
      { dataClass: 'global', country: 'AQ' },
      { region: 'us-east-1', reason: 'latency' },
    ],
    [
      'latency skips a down region',
      view(DEFAULT, ['us-east-1'], { 'eu-west-1': 9, 'us-east-1': 3, 'ap-southeast-1': 5 }),
      { dataClass: 'global' },
      { region: 'ap-southeast-1', reason: 'latency' },
    ],
    ['latency before any sample: topology order', view(DEFAULT), { dataClass: 'global' }, { region: 'eu-west-1', reason: 'latency' }],
    [
      'measured beats unmeasured',
      view(DEFAULT, [], { 'ap-southeast-1': 40 }),
      { dataClass: 'global' },
      { region: 'ap-southeast-1', reason: 'latency' },
    ],
    [
      'global data of a down home → nearest to it',
      view(DEFAULT, ['eu-west-1']),
      { dataClass: 'global', orgId: EU },
      { region: 'us-east-1', reason: 'failover:global' },
    ],
    [
      'global data, country region down',
      view(DEFAULT, ['us-east-1']),
      { dataClass: 'global', country: 'US' },
      { region: 'eu-west-1', reason: 'failover:global' },
    ],
    [
      'global data, two down',
      view(DEFAULT, ['eu-west-1', 'us-east-1']),
      { dataClass: 'global', country: 'FR' },
      { region: 'ap-southeast-1', reason: 'failover:global' },
    ],
    [
      'regional data, home down, no partner',
      view(DEFAULT, ['eu-west-1']),
      { dataClass: 'regional', orgId: EU },
      { reason: 'unavailable:regional' },
    ],
    [
      'regional data via token home, home down',
      view(DEFAULT, ['us-east-1']),
      { dataClass: 'regional', orgId: 'bad', homeRegionHint: 'us-east-1' },
      { reason: 'unavailable:regional' },
    ],
    [
      'regional data, home down, partner up',
      view(WITH_PARTNER, ['eu-west-1']),
      { dataClass: 'regional', orgId: EU },
      { region: 'eu-central-1', reason: 'failover:dr-partner' },
    ],
    [
      'regional data, home and partner down',
      view(WITH_PARTNER, ['eu-west-1', 'eu-central-1']),
      { dataClass: 'regional', orgId: EU },
      { reason: 'unavailable:regional' },
    ],
    [
      'global data with partner topology → nearest (partner)',
      view(WITH_PARTNER, ['eu-west-1']),
      { dataClass: 'global', orgId: EU },
      { region: 'eu-central-1', reason: 'failover:global' },
    ],
    [
      'everything down',
      view(DEFAULT, ['eu-west-1', 'us-east-1', 'ap-southeast-1']),
      { dataClass: 'global' },
      { reason: 'unavailable:no-healthy-region' },
    ],
  ];
  it.each(rows)('%s', (_name, v, request, expected) => {
    const decision = decideRoute(v, request);
    expect(decision.reason).toBe(expected.reason);
    if (expected.region) expect(decision).toMatchObject({ kind: 'route', region: expected.region });
    else expect(decision.kind).toBe('unavailable');
  });

  it('says why and when to retry when regional data is unavailable', () => {
    const decision = decideRoute(view(DEFAULT, ['eu-west-1']), { dataClass: 'regional', orgId: EU });
    expect(decision).toMatchObject({ kind: 'unavailable', code: 'ATLAS_ERR_REGION_UNAVAILABLE', preferred: 'eu-west-1' });
    if (decision.kind !== 'unavailable') throw new Error('unreachable');
    // 1 s interval × 2 good checks: the soonest eu-west-1 can be back.
    expect(decision.retryAfterS).toBe(2);
    expect(decision.message).toMatch(/eu-west-1 is unavailable.*never served from another jurisdiction/);
  });

  it('treats a region missing from the health map as down', () => {
    const v = { topology: DEFAULT, health: { 'us-east-1': 'up' as const }, latencyMs: {} };
    expect(decideRoute(v, { dataClass: 'global', country: 'FR' })).toMatchObject({ region: 'us-east-1', reason: 'failover:global' });
  });
});

describe('decideReplay', () => {
  it('replays to the region named by the 421', () => {
    expect(decideReplay(view(DEFAULT), 'eu-west-1', false)).toMatchObject({ kind: 'route', region: 'eu-west-1', reason: 'replay-421' });
  });
  it('replays at most once per hop chain', () => {
    expect(decideReplay(view(DEFAULT), 'eu-west-1', true)).toBeUndefined();
  });
  it('does not replay to a region it does not know', () => {
    expect(decideReplay(view(DEFAULT), 'mars-1', false)).toBeUndefined();
  });
  it('applies R2 when the named region is down', () => {
    expect(decideReplay(view(DEFAULT, ['eu-west-1']), 'eu-west-1', false)).toMatchObject({
      kind: 'unavailable',
      reason: 'unavailable:regional',
    });
    expect(decideReplay(view(WITH_PARTNER, ['eu-west-1']), 'eu-west-1', false)).toMatchObject({
      region: 'eu-central-1',
      reason: 'failover:dr-partner',
    });
  });
});
