import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Gauge, Counter } from 'prom-client';
import { AtlasError, findRegion } from '@atlas/core';
import { ErrorBody, Timestamp } from '../../lib/schemas';
import { ewma, probePeers } from '../../lib/latency-prober';
import { insertSamples, latencyStats, listHealthEvents, recordHealthEvent } from './latency.repository';

const HIGH_LATENCY = 'high_latency';

/**
 * Cross-region latency (the seed's latency controller): client samples, periodic probes of
 * every other region into latency_sample, percentiles per pair, and alerts over a threshold.
 */
export async function latencyRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { config, metrics } = app.atlas;
  const { db } = app.atlas.db;
  const here = config.region.id;
  const threshold = config.latencyAlertMs;

  const rtt = new Gauge({
    name: 'atlas_cross_region_rtt_ms',
    help: 'EWMA of measured round trips from this region to another, milliseconds',
    labelNames: ['from', 'to'],
    registers: [metrics.registry],
  });
  const reachable = new Gauge({
    name: 'atlas_region_reachable',
    help: '1 when the last probe from this region to another succeeded',
    labelNames: ['from', 'to'],
    registers: [metrics.registry],
  });
  const alerts = new Counter({
    name: 'atlas_latency_alerts_total',
    help: `Latency samples above the alert threshold (${threshold} ms)`,
    labelNames: ['from', 'to', 'source'],
    registers: [metrics.registry],
  });
  const averages = new Map<string, number>();

  const record = async (samples: Array<{ fromRegion: string; toRegion: string; rttMs: number; source: 'probe' | 'client' }>) => {
    if (samples.length === 0) return;
    await insertSamples(db, samples);
    for (const s of samples.filter((x) => x.rttMs > threshold)) {
      alerts.inc({ from: s.fromRegion, to: s.toRegion, source: s.source });
      await recordHealthEvent(db, here, HIGH_LATENCY, { ...s, thresholdMs: threshold });
    }
  };

  app.post(
    '/api/metrics/latency',
    {
      schema: {
        tags: ['operations'],
        summary: 'Report round trips a client measured to regions',
        body: Type.Object(
          {
            samples: Type.Array(
              Type.Object({ toRegion: Type.String(), rttMs: Type.Number({ minimum: 0, maximum: 120_000 }) }, { additionalProperties: false }),
              { minItems: 1, maxItems: 50 },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ accepted: Type.Integer() }), 400: ErrorBody },
      },
    },
    async (request, reply) => {
      for (const [i, s] of request.body.samples.entries()) {
        if (!findRegion(config.topology, s.toRegion)) throw new AtlasError('ATLAS_ERR_VALIDATION', `body/samples/${i}/toRegion: unknown region ${s.toRegion}`);
      }
      await record(request.body.samples.map((s) => ({ fromRegion: 'client', toRegion: s.toRegion, rttMs: s.rttMs, source: 'client' as const })));
      return reply.code(202).send({ accepted: request.body.samples.length });
    },
  );

  const Stat = Type.Object({
    fromRegion: Type.String(),
    toRegion: Type.String(),
    source: Type.String(),
    samples: Type.Integer(),
    p50: Type.Number(),
    p95: Type.Number(),
    p99: Type.Number(),
    max: Type.Number(),
    lastAt: Timestamp,
  });
  app.get(
    '/api/metrics/latency/stats',
    {
      schema: {
        tags: ['operations'],
        summary: 'p50/p95/p99 round trips per region pair, as stored in this region',
        querystring: Type.Object({ windowMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, default: 15 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ region: Type.String(), windowMinutes: Type.Integer(), thresholdMs: Type.Number(), pairs: Type.Array(Stat) }) },
      },
    },
    async (request) => {
      const windowMinutes = request.query.windowMinutes ?? 15;
      return { region: here, windowMinutes, thresholdMs: threshold, pairs: await latencyStats(db, windowMinutes) };
    },
  );

  app.get(
    '/api/metrics/latency/alerts',
    {
      schema: {
        tags: ['operations'],
        summary: `Samples above ${threshold} ms, newest first`,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ thresholdMs: Type.Number(), alerts: Type.Array(Type.Object({ region: Type.String(), detail: Type.Unknown(), observedAt: Timestamp })) }) },
      },
    },
    async (request) => ({
      thresholdMs: threshold,
      alerts: (await listHealthEvents(db, HIGH_LATENCY, request.query.limit ?? 50)).map((e) => ({ region: e.region, detail: e.detail, observedAt: e.observedAt })),
    }),
  );

  // Probes: every other region's API, on a timer; none when the interval is 0 (tests drive it).
  // Peer addresses are read at every probe, not once: a peer's address may be set late.
  const peers = () => config.topology.regions.filter((r) => r.id !== here).map((region) => ({ region, url: config.peerUrls[region.id] ?? `http://127.0.0.1:${region.apiPort}` }));
  const probeOnce = async () => {
    const results = await probePeers(peers(), Math.max(1_000, config.probeIntervalMs));
    for (const r of results) {
      reachable.set({ from: here, to: r.toRegion }, r.rttMs === null ? 0 : 1);
      if (r.rttMs === null) continue;
      const avg = ewma(averages.get(r.toRegion), r.rttMs);
      averages.set(r.toRegion, avg);
      rtt.set({ from: here, to: r.toRegion }, avg);
    }
    await record(results.flatMap((r) => (r.rttMs === null ? [] : [{ fromRegion: here, toRegion: r.toRegion, rttMs: r.rttMs, source: 'probe' as const }])));
  };
  app.decorate('probeLatencyOnce', probeOnce);
  if (config.probeIntervalMs > 0) {
    let timer: NodeJS.Timeout | undefined;
    const loop = () => {
      timer = setTimeout(() => {
        probeOnce()
          .catch((err: Error) => app.log.warn({ err }, 'latency probe failed'))
          .finally(() => {
            if (timer) loop();
          });
      }, config.probeIntervalMs);
      timer.unref();
    };
    app.addHook('onReady', async () => loop());
    app.addHook('onClose', async () => {
      clearTimeout(timer);
      timer = undefined;
    });
  }
}

// Not encapsulated (Fastify's skip-override): probeLatencyOnce is decorated on the app itself.
Object.assign(latencyRoutes, { [Symbol.for('skip-override')]: true });

declare module 'fastify' {
  interface FastifyInstance {
    /** One round of latency probes to every other region (for tests and `atlas status`). */
    probeLatencyOnce(): Promise<void>;
  }
}
