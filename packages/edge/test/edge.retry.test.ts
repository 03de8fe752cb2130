import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flakyServer, startEdge, testTopology, type EdgeUnderTest } from './support/harness';

/**
 * us-east-1 is replaced by a TCP server that drops connections: a network error after the
 * request was sent. Health checks are slow (1 min) so the region stays "up" for the edge and
 * every request really goes there.
 */
describe('retries at the edge', () => {
  let server: Awaited<ReturnType<typeof flakyServer>>;
  let edge: EdgeUnderTest;

  beforeAll(async () => {
    server = await flakyServer((line, seen) => {
      // A GET of /api/recovers is dropped once, then answered: a transient failure.
      if (line.startsWith('GET /api/recovers ') && seen >= 2) return JSON.stringify({ ok: true });
      return 'drop';
    });
    const others = { 'eu-west-1': 'http://127.0.0.1:9', 'ap-southeast-1': 'http://127.0.0.1:9' };
    edge = await startEdge(
      testTopology(),
      { ...others, 'us-east-1': server.url },
      { health: { intervalMs: 60_000, downAfter: 3, upAfter: 2, timeoutMs: 1_000 } },
    );
  });
  afterAll(async () => {
    await edge?.close();
    await server?.close();
  });

  const hits = (line: string) => server.lines.filter((l) => l === line).length;

  it('never retries a POST after a network error, and says so', async () => {
    const res = await fetch(`${edge.url}/api/orgs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-ipcountry': 'US' },
      body: JSON.stringify({ name: 'once only', homeRegion: 'us-east-1' }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('atlas-region')).toBe('us-east-1');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ATLAS_ERR_REGION_UNAVAILABLE');
    expect(body.error.message).toMatch(/a POST is not retried/);
    expect(hits('POST /api/orgs HTTP/1.1')).toBe(1);
  });

  it.each(['GET', 'PUT', 'DELETE'])('retries an idempotent %s with capped backoff, then gives up', async (method) => {
    const res = await fetch(`${edge.url}/api/referential/x`, {
      method,
      headers: { 'cf-ipcountry': 'US', ...(method === 'PUT' ? { 'content-type': 'application/json' } : {}) },
      body: method === 'PUT' ? '{"label":"x"}' : undefined,
    });
    expect(res.status).toBe(503);
    // The first attempt and DEFAULT_RETRY_POLICY.maxRetries (2) retries.
    expect(hits(`${method} /api/referential/x HTTP/1.1`)).toBe(3);
  });

  it('a transient failure of a GET is invisible to the client', async () => {
    const res = await fetch(`${edge.url}/api/recovers`, { headers: { 'cf-ipcountry': 'US' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(hits('GET /api/recovers HTTP/1.1')).toBe(2);
    const metrics = await (await fetch(`${edge.url}/edge/metrics`)).text();
    expect(metrics).toMatch(/^atlas_edge_retries_total\{region="us-east-1"\} [1-9]/m);
  });
});
