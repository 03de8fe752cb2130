import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  delayingProxy,
  fetchAs,
  regionStatus,
  waitAllSettled,
  startEdge,
  startRegions,
  testTopology,
  urlsOf,
  waitUntil,
  type EdgeUnderTest,
  type LiveRegion,
} from './support/harness';

async function downTransitions(edgeUrl: string): Promise<number> {
  const metrics = await (await fetch(`${edgeUrl}/edge/metrics`)).text();
  return Number(/^atlas_edge_region_health_transitions_total\{region="eu-west-1",to="down"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
}

type ErrorBody = { error: { code: string; message: string; region: string | null } };

describe('a whole region down, seen through the edge', () => {
  let regions: Record<string, LiveRegion>;
  let edge: EdgeUnderTest;
  let euOrg: string;

  beforeAll(async () => {
    regions = await startRegions();
    // 100 ms checks, down after 3 failures in a row, up after 2 successes in a row.
    edge = await startEdge(testTopology(), urlsOf(regions));
    const res = await fetchAs(edge.url, `/api/orgs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-ipcountry': 'IE' },
      body: JSON.stringify({ name: 'Failover agency', homeRegion: 'eu-west-1' }),
    });
    euOrg = ((await res.json()) as { id: string }).id;
    await waitAllSettled(edge.url);
  });
  afterAll(async () => {
    await edge?.close();
    await Promise.all(Object.values(regions ?? {}).map((r) => r.stop()));
  });

  it('marks eu-west-1 down after N failed checks, reroutes global reads, and refuses its regional data with 503', async () => {
    const transitionsBefore = await downTransitions(edge.url);
    await regions['eu-west-1']!.stop();
    const down = await waitUntil('eu-west-1 down', async () => {
      const s = await regionStatus(edge.url, 'eu-west-1');
      return s.state === 'down' && s;
    });
    expect(await downTransitions(edge.url)).toBe(transitionsBefore + 1);
    expect(down.consecutiveFailures).toBeGreaterThanOrEqual(3);
    expect(down.lastError).toMatch(/ECONNREFUSED|fetch failed/);

    // Global data: served by the healthy region nearest to eu-west-1.
    const list = await fetchAs(edge.url, `/api/orgs?limit=1`, { headers: { 'cf-ipcountry': 'FR' } });
    expect(list.status).toBe(200);
    expect(list.headers.get('atlas-region')).toBe('us-east-1');
    expect(list.headers.get('atlas-route-reason')).toBe('failover:global');
    expect(list.headers.get('atlas-route-preferred')).toBe('eu-west-1');
    const orgRow = await fetchAs(edge.url, `/api/orgs/${euOrg}`);
    expect(orgRow.headers.get('atlas-region')).toBe('us-east-1');
    expect(orgRow.headers.get('atlas-route-reason')).toBe('failover:global');

    // Regional data: no same-jurisdiction partner in this topology, so unavailable (R2).
    for (const [method, body] of [
      ['GET', undefined],
      ['POST', JSON.stringify({ title: 'must not go abroad', clientName: 'Jean Dupont' })],
    ] as const) {
      const res = await fetchAs(edge.url, `/api/orgs/${euOrg}/dossiers`, {
        method,
        body,
        headers: body ? { 'content-type': 'application/json' } : {},
      });
      expect(res.status, method).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(res.headers.get('atlas-region')).toBe('edge');
      expect(res.headers.get('atlas-route-reason')).toBe('unavailable:regional');
      const error = ((await res.json()) as ErrorBody).error;
      expect(error.code).toBe('ATLAS_ERR_REGION_UNAVAILABLE');
      expect(error.region).toBe('eu-west-1');
      expect(error.message).toMatch(/never served from another jurisdiction/);
    }
    // Nothing reached the other regions: their residency guards never saw the EU organization.
    for (const id of ['us-east-1', 'ap-southeast-1']) {
      const metrics = await regions[id]!.app.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body, id).not.toMatch(/atlas_wrong_region_requests_total\{[^}]*home_region="eu-west-1"[^}]*\} [1-9]/);
    }
    const edgeMetrics = await (await fetch(`${edge.url}/edge/metrics`)).text();
    expect(edgeMetrics).toMatch(/^atlas_edge_region_up\{region="eu-west-1"\} 0$/m);
    expect(edgeMetrics).toMatch(/^atlas_edge_unavailable_total\{preferred="eu-west-1",reason="unavailable:regional"\} 2$/m);
  });

  it('puts eu-west-1 back after M good checks and routes its organization home again', async () => {
    await regions['eu-west-1']!.start();
    const up = await waitUntil('eu-west-1 up', async () => {
      const s = await regionStatus(edge.url, 'eu-west-1');
      return s.state === 'up' && s;
    });
    expect(up.consecutiveSuccesses).toBeGreaterThanOrEqual(2);
    const res = await fetchAs(edge.url, `/api/orgs/${euOrg}/dossiers`);
    expect(res.status).toBe(200);
    expect(res.headers.get('atlas-region')).toBe('eu-west-1');
    expect(res.headers.get('atlas-route-reason')).toBe('org-home');
    const metrics = await (await fetch(`${edge.url}/edge/metrics`)).text();
    expect(metrics).toMatch(/^atlas_edge_region_health_transitions_total\{region="eu-west-1",to="up"\} [1-9]/m);
  });

  it('does not take a region out for intermittent slowness below the threshold', async () => {
    // Two checks out of three are slower than the probe timeout (300 ms), the third is fast:
    // never 3 failures in a row, so ap-southeast-1 must stay up throughout.
    let readyz = 0;
    const slow = await delayingProxy(
      () => regions['ap-southeast-1']!.url,
      (path) => (path === '/readyz' ? (readyz++ % 3 === 2 ? 0 : 500) : 0),
    );
    const flaky = await startEdge(
      testTopology(),
      { ...urlsOf(regions), 'ap-southeast-1': slow.url },
      { health: { intervalMs: 100, downAfter: 3, upAfter: 2, timeoutMs: 300 } },
    );
    try {
      await waitUntil('first check', async () => (await regionStatus(flaky.url, 'ap-southeast-1')).checks >= 1);
      const seen = await waitUntil(
        '9 checks of ap-southeast-1',
        async () => {
          const s = await regionStatus(flaky.url, 'ap-southeast-1');
          expect(s.state).toBe('up');
          return s.checks >= 9 && s;
        },
        15_000,
      );
      expect(seen.failures).toBeGreaterThanOrEqual(5);
      expect(seen.lastError).toMatch(/no answer in 300 ms/);
      const res = await fetchAs(flaky.url, `/api/regions/current`, { headers: { 'cf-ipcountry': 'SG' } });
      expect(res.headers.get('atlas-region')).toBe('ap-southeast-1');
      const metrics = await (await fetch(`${flaky.url}/edge/metrics`)).text();
      expect(metrics).not.toMatch(/atlas_edge_region_health_transitions_total\{region="ap-southeast-1"/);
    } finally {
      await flaky.close();
      await slow.close();
    }
  });
});
