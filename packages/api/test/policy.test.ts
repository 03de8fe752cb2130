import { describe, expect, it } from 'vitest';
import { authorizeRole, authorizeScope, routeAccess } from '../src/auth/policy';
import type { Principal } from '../src/auth/tokens';

const principal = (over: Partial<Principal> = {}): Principal => ({
  userId: 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa',
  orgId: 'org_euw1_aaaaaaaaaaaaaaaaaaaa',
  roles: ['agent'],
  homeRegion: 'eu-west-1',
  tokenId: 'j',
  ...over,
});

describe('route access policy', () => {
  it.each([
    ['GET', '/healthz', undefined, 'public'],
    ['GET', '/api/regions/current', undefined, 'public'],
    ['POST', '/api/orgs', undefined, 'public'],
    ['GET', '/api/referential/:kind', undefined, 'public'],
    ['PUT', '/api/referential/:kind/:code', { requireRole: 'admin' as const }, 'protected'],
    ['GET', '/api/regions/replication', { requireRole: 'admin' as const }, 'protected'],
    ['GET', '/api/orgs', undefined, 'protected'],
    ['POST', '/api/replication/anything-new', undefined, 'protected'],
  ])('%s %s is %s', (method, url, config, expected) => {
    expect(routeAccess(method, url, config) === 'public' ? 'public' : 'protected').toBe(expected);
  });

  it('reads by readers, writes by writers, named roles otherwise; region-wide admin routes for the operator', () => {
    expect(routeAccess('GET', '/api/orgs/:orgId/dossiers', undefined)).toEqual({ roles: ['admin', 'agent', 'viewer'], regional: true, regionWide: false });
    expect(routeAccess('DELETE', '/api/orgs/:orgId/dossiers/:id', undefined)).toEqual({ roles: ['admin', 'agent'], regional: true, regionWide: false });
    expect(routeAccess('GET', '/api/orgs/:orgId', undefined)).toMatchObject({ regional: false, regionWide: false });
    const replication = routeAccess('POST', '/api/replication/x', { requireRole: 'admin' });
    if (replication === 'public') throw new Error('unexpected');
    expect(replication.regionWide).toBe(true);
    expect(authorizeScope(principal({ roles: ['admin'] }), replication, {}, 'org_use1_bbbbbbbbbbbbbbbbbbbb')?.code).toBe('ATLAS_ERR_FORBIDDEN');
    expect(authorizeScope(principal({ roles: ['admin'], orgId: 'org_use1_bbbbbbbbbbbbbbbbbbbb' }), replication, {}, 'org_use1_bbbbbbbbbbbbbbbbbbbb')).toBeUndefined();
    expect(authorizeRole(principal(), replication)?.message).toMatch(/needs the role admin/);
  });

  it("refuses another organization's path and another user's preferences", () => {
    const read = routeAccess('GET', '/api/orgs/:orgId/dossiers', undefined);
    if (read === 'public') throw new Error('unexpected');
    expect(authorizeScope(principal(), read, { orgId: 'org_euw1_cccccccccccccccccccc' })?.code).toBe('ATLAS_ERR_FORBIDDEN');
    expect(authorizeScope(principal(), read, { orgId: 'org_euw1_aaaaaaaaaaaaaaaaaaaa' })).toBeUndefined();
    const prefs = routeAccess('GET', '/api/users/:userId/preferences', { requireRole: ['admin', 'agent', 'viewer', 'dpo'] });
    if (prefs === 'public') throw new Error('unexpected');
    expect(authorizeScope(principal(), prefs, { userId: 'usr_bbbbbbbbbbbbbbbbbbbbbbbbbb' })?.code).toBe('ATLAS_ERR_FORBIDDEN');
  });
});
