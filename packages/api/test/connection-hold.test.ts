import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityConfigFromEnv, SecurityConfigError } from '../src/security/security-config';
import { apiConfig, bearer, type RegionApp } from '../../../test/support/regions';
import { RawConnections, newUsOrg, startThrottledRegion } from '../../../test/support/throttled-region';

const HOLD_S = 2;

describe('rate limit: a refused client connection is not read until its Retry-After', () => {
  let r: RegionApp;
  let port: number;
  const open = new RawConnections();
  const connection = () => open.to(port);
  const newOrg = (name: string) => newUsOrg(r, name);
  const annonces = (orgId: string) => `/api/orgs/${orgId}/annonces`;

  beforeAll(async () => {
    // 2 requests an hour (nothing refills while a test runs); holds of HOLD_S at most.
    ({ region: r, port } = await startThrottledRegion(HOLD_S));
  });
  afterAll(async () => {
    open.closeAll();
    await r.close();
  });

  /** Spends the organization's budget on a connection of its own, then gets it refused early. */
  const exhaust = async (orgId: string, token: Record<string, string>) => {
    const c = await connection();
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await c.get(annonces(orgId), token)).status);
    // 2 served; the bucket is empty, so the third is refused by the first hook (and held).
    expect(codes).toEqual([200, 200, 429]);
    return c;
  };

  it("holds the refused connection only: the same organization's other connection, and another organization's, are answered meanwhile", async () => {
    const flooder = await newOrg('Flooder');
    const bystander = await newOrg('Bystander');
    const flooderToken = bearer(flooder, 'viewer');
    const bystanderToken = bearer(bystander, 'viewer');
    const other = await connection();
    const sibling = await connection();
    const held = await exhaust(flooder, flooderToken);

    // Sent on the held connection right after its 429: not read until the hold is over.
    const sentAt = performance.now();
    const waiting = held.get(annonces(flooder), flooderToken);
    // Meanwhile another organization is served, and the flooder's other connection is
    // refused at once (it was not the one refused), while the held request is still unanswered.
    const served = await other.get(annonces(bystander), bystanderToken);
    const refusedElsewhere = await sibling.get(annonces(flooder), flooderToken);
    const late = await waiting;
    expect(served.status).toBe(200);
    expect(refusedElsewhere.status).toBe(429);
    expect(served.at).toBeLessThan(late.at);
    expect(refusedElsewhere.at).toBeLessThan(late.at);
    // The held request is read and judged once the hold is over: still over budget, 429 again.
    expect(late.status).toBe(429);
    expect(late.at - sentAt).toBeGreaterThanOrEqual(HOLD_S * 1000 - 50);
    // The Retry-After told the client to wait at least as long as it was held.
    expect(Number(late.retryAfter)).toBeGreaterThanOrEqual(HOLD_S);
  });

  it('never holds a connection whose requests come through a proxy (the edge pools many clients on it)', async () => {
    const flooder = await newOrg('Proxied');
    const token = bearer(flooder, 'viewer');
    const direct = await exhaust(flooder, token);
    const proxy = await connection();
    const viaProxy = { ...token, 'x-forwarded-for': '203.0.113.7' };
    expect((await proxy.get(annonces(flooder), viaProxy)).status).toBe(429);
    // The direct connection was held by its last 429; the proxy's was not, so its next request
    // is answered while the direct one's is still waiting.
    const heldAnswer = direct.get(annonces(flooder), token);
    const proxied = await proxy.get(annonces(flooder), viaProxy);
    const bystander = await newOrg('Behind the proxy');
    const otherTenant = await proxy.get(annonces(bystander), { ...bearer(bystander, 'viewer'), forwarded: 'for=198.51.100.2' });
    const held = await heldAnswer;
    expect([proxied.status, otherTenant.status, held.status]).toEqual([429, 200, 429]);
    expect(proxied.at).toBeLessThan(held.at);
    expect(otherTenant.at).toBeLessThan(held.at);
  });
});

describe('rate limit: the hold setting', () => {
  const keys = {
    ATLAS_AUTH_PUBLIC_KEY: JSON.stringify(apiConfig('us-east-1').security.authPublicKey),
    ATLAS_AUDIT_SIGNING_KEY: JSON.stringify(apiConfig('us-east-1').security.auditSigningKey),
  };

  it('defaults to 60 s, accepts 0 (off), and refuses anything but whole seconds up to an hour', () => {
    expect(securityConfigFromEnv(keys).rateLimitHoldMaxSeconds).toBe(60);
    expect(securityConfigFromEnv({ ...keys, ATLAS_RATE_LIMIT_HOLD_MAX_S: '0' }).rateLimitHoldMaxSeconds).toBe(0);
    expect(securityConfigFromEnv({ ...keys, ATLAS_RATE_LIMIT_HOLD_MAX_S: '3600' }).rateLimitHoldMaxSeconds).toBe(3600);
    for (const bad of ['-1', '1.5', 'soon', '3601']) {
      expect(() => securityConfigFromEnv({ ...keys, ATLAS_RATE_LIMIT_HOLD_MAX_S: bad })).toThrow(SecurityConfigError);
    }
  });
});
