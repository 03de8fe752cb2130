import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveWebApp } from '../src/index';
import { fetchAs, startEdge, startRegions, testTopology, urlsOf, waitUntil, type EdgeUnderTest, type LiveRegion } from './support/harness';

describe('the edge serves the web app and honours the client region hint', () => {
  let root: string;
  let regions: Record<string, LiveRegion>;
  let edge: EdgeUnderTest;
  const script = `console.log(${JSON.stringify('atlas '.repeat(400))});`;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'atlas-web-'));
    await writeFile(join(root, 'index.html'), '<!doctype html><title>Atlas</title><atlas-root></atlas-root>');
    await writeFile(join(root, 'main-AB12CD34.js'), script);
    regions = await startRegions();
    edge = await startEdge(testTopology(), urlsOf(regions), { webRoot: root }, { webApp: serveWebApp });
  });
  afterAll(async () => {
    await edge?.close();
    await Promise.all(Object.values(regions ?? {}).map((r) => r.stop()));
    await rm(root, { recursive: true, force: true });
  });

  it('serves index.html at / and for any app route, never cached', async () => {
    for (const path of ['/', '/dossiers', '/dossiers/0b5c/edit?x=1']) {
      const res = await fetch(`${edge.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<atlas-root>');
    }
  });

  it('serves hashed bundles compressed (brotli when accepted) and cacheable for a year', async () => {
    const res = await fetch(`${edge.url}/main-AB12CD34.js`, { headers: { 'accept-encoding': 'br' } });
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('cache-control')).toContain('immutable');
    // fetch() decodes br itself; the raw length shows the body really was compressed.
    expect(Number(res.headers.get('content-length'))).toBeLessThan(script.length / 4);
    expect(await res.text()).toBe(script);
    const raw = await fetch(`${edge.url}/main-AB12CD34.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(raw.headers.get('content-encoding')).toBeNull();
    expect(await raw.text()).toBe(script);
  });

  it('answers 404 for a missing file and never serves outside its root', async () => {
    expect((await fetch(`${edge.url}/missing-00000000.js`)).status).toBe(404);
    // Whatever the encoding, the answer is a 404 or the app's own index.html, never the file.
    for (const path of ['/..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/hosts', '/../package.json', '/..%2f..%2fpackage.json']) {
      const res = await fetch(`${edge.url}${path}`);
      const body = await res.text();
      expect(res.status === 404 || body.includes('<atlas-root>'), `${path}: ${res.status} ${body.slice(0, 80)}`).toBe(true);
      expect(body).not.toMatch(/root:|localhost|"workspaces"/);
    }
  });

  it('still proxies /api and answers /edge itself', async () => {
    const api = await fetchAs(edge.url, '/api/regions/current');
    expect(api.status).toBe(200);
    expect(((await api.json()) as { region: string }).region).toMatch(/^[a-z]{2}-[a-z]+-[0-9]$/);
    const status = await fetch(`${edge.url}/edge/status`);
    expect(((await status.json()) as { regions: unknown[] }).regions).toHaveLength(3);
  });

  it('sends global requests to the region the client names, and ignores the hint for regional data', async () => {
    for (const region of ['eu-west-1', 'us-east-1', 'ap-southeast-1']) {
      const res = await fetchAs(edge.url, '/api/regions/current', { headers: { 'atlas-region-hint': region } });
      expect(res.headers.get('atlas-region')).toBe(region);
      expect(res.headers.get('atlas-route-reason')).toBe('client-choice');
    }
    const created = await fetchAs(edge.url, '/api/orgs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'atlas-region-hint': 'us-east-1' },
      body: JSON.stringify({ name: 'Hint agency', homeRegion: 'eu-west-1' }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('atlas-region')).toBe('us-east-1');
    const org = ((await created.json()) as { id: string }).id;
    const regional = await fetchAs(edge.url, `/api/orgs/${org}/dossiers`, { headers: { 'atlas-region-hint': 'ap-southeast-1' } });
    expect(regional.headers.get('atlas-region')).toBe('eu-west-1');
    expect(regional.headers.get('atlas-route-reason')).toBe('org-home');
  });

  it('fails a hinted global request over when the named region is down', async () => {
    await regions['ap-southeast-1']!.stop();
    await waitUntil('ap-southeast-1 down at the edge', async () => {
      const s = (await (await fetch(`${edge.url}/edge/status`)).json()) as { regions: { region: string; state: string }[] };
      return s.regions.find((r) => r.region === 'ap-southeast-1')?.state === 'down' || undefined;
    });
    const res = await fetchAs(edge.url, '/api/regions/current', { headers: { 'atlas-region-hint': 'ap-southeast-1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('atlas-route-reason')).toBe('failover:global');
    expect(res.headers.get('atlas-route-preferred')).toBe('ap-southeast-1');
    expect(res.headers.get('atlas-region')).not.toBe('ap-southeast-1');
  });
});
