import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTopology } from '@atlas/core';
import { adminQuery, cluster } from '../../../test/support/regions';
import {
  delayingProxy,
  fetchAs,
  startEdge,
  startRegions,
  testTopology,
  urlsOf,
  waitUntil,
  type EdgeUnderTest,
  type LiveRegion,
} from './support/harness';

describe('edge routing over real HTTP', () => {
  let regions: Record<string, LiveRegion>;
  let edge: EdgeUnderTest;
  let euOrg: string;
  let usOrg: string;

  beforeAll(async () => {
    regions = await startRegions();
    edge = await startEdge(testTopology(), urlsOf(regions));
    const create = async (name: string, homeRegion: string, country: string) => {
      const res = await fetchAs(edge.url, `/api/orgs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cf-ipcountry': country },
        body: JSON.stringify({ name, homeRegion }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
      expect(res.headers.get('atlas-route-reason')).toBe(`country:${country}`);
      return ((await res.json()) as { id: string }).id;
    };
    euOrg = await create('Edge EU agency', 'eu-west-1', 'FR');
    usOrg = await create('Edge US agency', 'us-east-1', 'US');
  });
  afterAll(async () => {
    await edge?.close();
    await Promise.all(Object.values(regions ?? {}).map((r) => r.stop()));
  });

  it("sends an EU organization to eu-west-1 whatever the viewer's country", async () => {
    const res = await fetchAs(edge.url, `/api/orgs/${euOrg}/dossiers`, { headers: { 'cf-ipcountry': 'US' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('atlas-region')).toBe('eu-west-1');
    expect(res.headers.get('atlas-route-reason')).toBe('org-home');
    expect(res.headers.get('atlas-served-by')).toBe('eu-west-1');
  });

  it('routes the organization row itself to its home too', async () => {
    const res = await fetchAs(edge.url, `/api/orgs/${usOrg}`, { headers: { 'cf-ipcountry': 'FR' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { homeRegion: string }).homeRegion).toBe('us-east-1');
    expect(res.headers.get('atlas-region')).toBe('us-east-1');
    expect(res.headers.get('atlas-route-reason')).toBe('org-home');
  });

  it.each([
    ['cf-ipcountry', 'SG', 'ap-southeast-1'],
    ['cloudfront-viewer-country', 'DE', 'eu-west-1'],
    ['cf-ipcountry', 'BR', 'us-east-1'],
  ])('routes by the %s header (%s → %s)', async (header, country, region) => {
    const res = await fetchAs(edge.url, `/api/regions/current`, { headers: { [header]: country } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { region: string }).region).toBe(region);
    expect(res.headers.get('atlas-region')).toBe(region);
    expect(res.headers.get('atlas-route-reason')).toBe(`country:${country}`);
  });

  it('creates regional data at the home region with the body forwarded intact', async () => {
    const res = await fetchAs(edge.url, `/api/orgs/${euOrg}/dossiers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ title: 'Vente à Lyon — 3 pièces', clientName: 'Élodie Durand' }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('atlas-region')).toBe('eu-west-1');
    const rows = await adminQuery('eu-west-1', 'SELECT title, client_name FROM dossier WHERE id = $1', [
      ((await res.json()) as { id: string }).id,
    ]);
    expect(rows).toEqual([{ title: 'Vente à Lyon — 3 pièces', client_name: 'Élodie Durand' }]);
  });

  it("answers the edge's own status with every region, its health and latency", async () => {
    const status = await waitUntil('a latency sample for every region', async () => {
      const body = (await (await fetch(`${edge.url}/edge/status`)).json()) as {
        regions: Array<{ region: string; state: string; ewmaMs: number | null; checks: number }>;
      };
      return body.regions.every((r) => r.ewmaMs !== null && r.checks > 0) && body;
    });
    expect(status.regions.map((r) => [r.region, r.state])).toEqual([
      ['eu-west-1', 'up'],
      ['us-east-1', 'up'],
      ['ap-southeast-1', 'up'],
    ]);
    const metrics = await (await fetch(`${edge.url}/edge/metrics`)).text();
    expect(metrics).toMatch(/^atlas_edge_requests_total\{region="eu-west-1",reason="org-home",status_class="2xx"\} [1-9]/m);
    expect(metrics).toMatch(/^atlas_edge_region_up\{region="ap-southeast-1"\} 1$/m);
    expect(metrics).toMatch(/^atlas_edge_region_latency_ewma_ms\{region="us-east-1"\} [0-9.]+$/m);
  });

  it("passes the client's request id through and returns it", async () => {
    const res = await fetchAs(edge.url, `/api/regions/current`, { headers: { 'x-request-id': 'edge-test-42', 'cf-ipcountry': 'FR' } });
    expect(res.headers.get('x-request-id')).toBe('edge-test-42');
  });

  describe("an edge whose view of an organization's home is wrong", () => {
    // The regions are the authority on where data lives: an edge with a stale view (here:
    // the codes of eu-west-1 and us-east-1 swapped) sends EU requests to us-east-1, which
    // refuses with 421 before reading anything; the edge replays there, once.
    let stale: EdgeUnderTest;
    beforeAll(async () => {
      const input = structuredClone(cluster().topology);
      const code = (id: string) => input.regions.find((r) => r.id === id)!;
      [code('eu-west-1').code, code('us-east-1').code] = [code('us-east-1').code, code('eu-west-1').code];
      stale = await startEdge(parseTopology(input), urlsOf(regions));
    });
    afterAll(async () => stale?.close());

    it('replays a GET answered 421 to the region named and succeeds', async () => {
      const res = await fetchAs(stale.url, `/api/orgs/${euOrg}/dossiers`);
      expect(res.status).toBe(200);
      expect(res.headers.get('atlas-region')).toBe('eu-west-1');
      expect(res.headers.get('atlas-route-reason')).toBe('replay-421');
      expect(res.headers.get('atlas-replayed-from')).toBe('us-east-1');
    });

    it('replays a POST with its body, since the region refused before doing anything', async () => {
      const res = await fetchAs(stale.url, `/api/orgs/${euOrg}/dossiers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'replayed dossier', clientEmail: 'replay@example.eu' }),
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('atlas-replayed-from')).toBe('us-east-1');
      const id = ((await res.json()) as { id: string }).id;
      expect(await adminQuery('eu-west-1', 'SELECT title FROM dossier WHERE id = $1', [id])).toEqual([{ title: 'replayed dossier' }]);
      expect(await adminQuery('us-east-1', "SELECT count(*)::int AS n FROM dossier WHERE title = 'replayed dossier'")).toEqual([{ n: 0 }]);
      const metrics = await (await fetch(`${stale.url}/edge/metrics`)).text();
      expect(metrics).toMatch(/^atlas_edge_replays_total\{from="us-east-1",to="eu-west-1"\} 2$/m);
    });

    it('does not replay a request that is itself a replay (one replay per hop chain)', async () => {
      const res = await fetchAs(stale.url, `/api/orgs/${euOrg}/dossiers`, { headers: { 'atlas-replay': '1' } });
      expect(res.status).toBe(421);
      // The 421 keeps naming the owner, for the client to replay.
      expect(res.headers.get('atlas-region')).toBe('eu-west-1');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ATLAS_ERR_WRONG_REGION');
    });
  });

  it('uses the bundled IP→country database when no CDN header is present', async () => {
    const behindProxy = await startEdge(testTopology(), urlsOf(regions), { trustProxy: true });
    try {
      for (const [ip, country, region] of [
        ['81.2.69.160', 'GB', 'eu-west-1'],
        ['8.8.8.8', 'US', 'us-east-1'],
        ['2a01:e0a::1', 'FR', 'eu-west-1'],
      ]) {
        const res = await fetchAs(behindProxy.url, `/api/regions/current`, { headers: { 'x-forwarded-for': ip! } });
        expect(res.headers.get('atlas-route-reason'), ip).toBe(`country:${country}`);
        expect(res.headers.get('atlas-region'), ip).toBe(region);
      }
    } finally {
      await behindProxy.close();
    }
  });

  it('falls back to the lowest measured latency when nothing else decides', async () => {
    // eu-west-1 and us-east-1 sit behind 40 ms of extra round trip; ap-southeast-1 does not.
    const slow = await Promise.all(
      ['eu-west-1', 'us-east-1'].map((id) =>
        delayingProxy(
          () => regions[id]!.url,
          (path) => (path === '/healthz' ? 40 : 0),
        ),
      ),
    );
    const byLatency = await startEdge(
      testTopology(),
      { ...urlsOf(regions), 'eu-west-1': slow[0]!.url, 'us-east-1': slow[1]!.url },
      { countryDbPath: null },
    );
    try {
      await waitUntil('latency samples', async () => {
        const body = (await (await fetch(`${byLatency.url}/edge/status`)).json()) as { regions: Array<{ ewmaMs: number | null }> };
        return body.regions.every((r) => r.ewmaMs !== null);
      });
      const res = await fetchAs(byLatency.url, `/api/regions/current`);
      expect(res.headers.get('atlas-route-reason')).toBe('latency');
      expect(res.headers.get('atlas-region')).toBe('ap-southeast-1');
    } finally {
      await byLatency.close();
      await Promise.all(slow.map((s) => s.close()));
    }
  });
});
