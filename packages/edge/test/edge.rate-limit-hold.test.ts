import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, type RegionApp } from '../../../test/support/regions';
import { RawConnections, newUsOrg, startThrottledRegion } from '../../../test/support/throttled-region';
import { regionStatus, startEdge, testTopology, waitUntil, type EdgeUnderTest } from './support/harness';

const HOLD_S = 2;

/**
 * A real us-east-1 API with a tiny organization budget behind real edges: after relaying the
 * region's 429, an edge stops reading that client's connection until its Retry-After (at most
 * HOLD_S here); the region never holds the edge's own connections (they carry X-Forwarded-For
 * and other clients' requests); an edge behind a load balancer (trustProxy) holds nothing.
 */
describe('edge: a client refused by its region is not read until its Retry-After', () => {
  let region: RegionApp;
  let edge: EdgeUnderTest;
  let behindProxy: EdgeUnderTest;
  const open = new RawConnections();
  const connection = (to: EdgeUnderTest) => open.to(Number(new URL(to.url).port));
  const newOrg = (name: string) => newUsOrg(region, name);
  const annonces = (orgId: string) => `/api/orgs/${orgId}/annonces`;

  beforeAll(async () => {
    // 2 requests an hour per organization: nothing refills while a test runs.
    const started = await startThrottledRegion(HOLD_S);
    region = started.region;
    const upstreams = { 'eu-west-1': 'http://127.0.0.1:9', 'ap-southeast-1': 'http://127.0.0.1:9', 'us-east-1': `http://127.0.0.1:${started.port}` };
    edge = await startEdge(testTopology(), upstreams, { rateLimitHoldMaxSeconds: HOLD_S });
    behindProxy = await startEdge(testTopology(), upstreams, { rateLimitHoldMaxSeconds: HOLD_S, trustProxy: true });
    for (const e of [edge, behindProxy]) await waitUntil('us-east-1 up at the edge', async () => (await regionStatus(e.url, 'us-east-1')).state === 'up');
  });
  afterAll(async () => {
    open.closeAll();
    await edge?.close();
    await behindProxy?.close();
    await region?.close();
  });

  it("holds the refused client's connection, and only it: other clients pass through the same edge meanwhile", async () => {
    const flooder = await newOrg('Edge flooder');
    const bystander = await newOrg('Edge bystander');
    const token = bearer(flooder, 'viewer');
    const held = await connection(edge);
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await held.get(annonces(flooder), token)).status);
    expect(codes).toEqual([200, 200, 429]);

    const sentAt = performance.now();
    const waiting = held.get(annonces(flooder), token);
    // Through the same edge (and its pooled connections to the region) while the client waits:
    // another organization is served, and the flooder's other connection is refused at once.
    const other = await (await connection(edge)).get(annonces(bystander), bearer(bystander, 'viewer'));
    const sibling = await (await connection(edge)).get(annonces(flooder), token);
    const late = await waiting;
    expect([other.status, sibling.status, late.status]).toEqual([200, 429, 429]);
    expect(other.at).toBeLessThan(late.at);
    expect(sibling.at).toBeLessThan(late.at);
    expect(late.at - sentAt).toBeGreaterThanOrEqual(HOLD_S * 1000 - 50);
    expect(Number(late.retryAfter)).toBeGreaterThanOrEqual(HOLD_S);
  });

  it('holds nothing behind a load balancer (trustProxy): its connections carry many clients', async () => {
    const flooder = await newOrg('Balanced flooder');
    const token = bearer(flooder, 'viewer');
    const direct = await connection(edge);
    const pooled = await connection(behindProxy);
    for (let i = 0; i < 3; i++) await direct.get(annonces(flooder), token);
    // The direct client's connection is held now; the balancer's, refused too, is not.
    expect((await pooled.get(annonces(flooder), token)).status).toBe(429);
    const heldAnswer = direct.get(annonces(flooder), token);
    const again = await pooled.get(annonces(flooder), token);
    const bystander = await newOrg('Balanced bystander');
    const served = await pooled.get(annonces(bystander), bearer(bystander, 'viewer'));
    const held = await heldAnswer;
    expect([again.status, served.status, held.status]).toEqual([429, 200, 429]);
    expect(again.at).toBeLessThan(held.at);
    expect(served.at).toBeLessThan(held.at);
  });
});
