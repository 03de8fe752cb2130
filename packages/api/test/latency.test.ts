import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { apiConfig, regionApp, startRegionApp, type RegionApp } from '../../../test/support/regions';

describe('cross-region latency metrics', () => {
  let eu: RegionApp;
  let us: RegionApp;
  // ap-southeast-1 "answers" on a port this suite holds and that resets every connection:
  // its topology port may be taken by another suite's API while this one runs.
  let refusing: Server;

  beforeAll(async () => {
    refusing = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const refusingPort = (refusing.address() as { port: number }).port;
    us = await startRegionApp('us-east-1');
    await us.app.listen({ host: '127.0.0.1', port: 0 });
    const usPort = (us.app.server.address() as { port: number }).port;
    const config = {
      ...apiConfig('eu-west-1'),
      peerUrls: { 'us-east-1': `http://127.0.0.1:${usPort}`, 'ap-southeast-1': `http://127.0.0.1:${refusingPort}` },
    };
    const db = createDb(config.databaseUrl, { max: 5 });
    const app = await buildApp(config, db, { logger: false });
    await app.ready();
    eu = regionApp('eu-west-1', app, db);
  });
  afterAll(async () => {
    await Promise.all([eu.close(), us.close()]);
    await new Promise((resolve) => refusing.close(resolve));
  });

  it('probes the other regions and reports percentiles per pair', async () => {
    for (let i = 0; i < 3; i++) await eu.app.probeLatencyOnce();
    const stats = (await eu.app.inject({ method: 'GET', url: '/api/metrics/latency/stats' })).json();
    const pair = stats.pairs.find((p: { toRegion: string; source: string }) => p.toRegion === 'us-east-1' && p.source === 'probe');
    expect(pair).toMatchObject({ fromRegion: 'eu-west-1', toRegion: 'us-east-1' });
    expect(pair.samples).toBeGreaterThanOrEqual(3);
    expect(pair.p50).toBeGreaterThan(0);
    expect(pair.p50).toBeLessThanOrEqual(pair.p95);
    expect(pair.p95).toBeLessThanOrEqual(pair.p99);
    // ap-southeast-1 does not answer: this process's reachability gauge says so. (Its stored
    // samples are not checked: other suites probe it through the same database.)
    const metrics = (await eu.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/atlas_region_reachable\{[^}]*from="eu-west-1",to="ap-southeast-1"[^}]*\} 0/);
    expect(metrics).toMatch(/atlas_region_reachable\{[^}]*from="eu-west-1",to="us-east-1"[^}]*\} 1/);
    expect(metrics).toMatch(/atlas_cross_region_rtt_ms\{[^}]*to="us-east-1"[^}]*\} [0-9.]+/);
  });

  it('accepts client samples and raises an alert for one over the threshold', async () => {
    const before = (await eu.app.inject({ method: 'GET', url: '/api/metrics/latency/alerts' })).json().alerts.length;
    const res = await eu.app.inject({ method: 'POST', url: '/api/metrics/latency', payload: { samples: [{ toRegion: 'eu-west-1', rttMs: 35 }, { toRegion: 'us-east-1', rttMs: 480 }] } });
    expect(res.statusCode).toBe(202);
    const alerts = (await eu.app.inject({ method: 'GET', url: '/api/metrics/latency/alerts' })).json();
    expect(alerts.thresholdMs).toBe(200);
    expect(alerts.alerts.length).toBe(before + 1);
    expect(alerts.alerts[0].detail).toMatchObject({ toRegion: 'us-east-1', rttMs: 480, source: 'client' });
    expect((await eu.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/atlas_latency_alerts_total\{[^}]*to="us-east-1",source="client"[^}]*\} 1/);
  });

  it('refuses samples for unknown regions or absurd values and stores none', async () => {
    const count = async () =>
      ((await eu.app.inject({ method: 'GET', url: '/api/metrics/latency/stats' })).json().pairs as Array<{ source: string; samples: number }>)
        .filter((p) => p.source === 'client')
        .reduce((n, p) => n + p.samples, 0);
    const before = await count();
    for (const samples of [[{ toRegion: 'mars-1', rttMs: 10 }], [{ toRegion: 'eu-west-1', rttMs: -1 }], [], [{ toRegion: 'eu-west-1', rttMs: 5, extra: 1 }]]) {
      const res = await eu.app.inject({ method: 'POST', url: '/api/metrics/latency', payload: { samples } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('ATLAS_ERR_VALIDATION');
    }
    expect(await count()).toBe(before);
  });
});
