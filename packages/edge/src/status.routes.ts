import type { FastifyInstance } from 'fastify';
import type { EdgeConfig } from './config';
import type { EdgeMetrics } from './metrics';
import type { RegionMonitor } from './region-monitor';

/** The edge's own endpoints, under /edge so that they never shadow a region's route. */
export function registerStatusRoutes(
  app: FastifyInstance,
  deps: { config: EdgeConfig; monitor: RegionMonitor; metrics: EdgeMetrics; startedAt: Date },
): void {
  const { config, monitor, metrics } = deps;

  app.get('/edge/healthz', async () => ({ status: 'ok' }));

  app.get('/edge/status', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return {
      edge: { startedAt: deps.startedAt.toISOString(), health: config.health },
      regions: monitor.snapshot().map((r) => ({
        region: r.region,
        jurisdiction: r.jurisdiction,
        upstream: r.upstream,
        state: r.state,
        since: new Date(r.since).toISOString(),
        consecutiveFailures: r.consecutiveFailures,
        consecutiveSuccesses: r.consecutiveSuccesses,
        checks: r.checks,
        failures: r.failures,
        lastCheckAt: r.lastCheckAt === null ? null : new Date(r.lastCheckAt).toISOString(),
        lastError: r.lastError,
        ewmaMs: r.ewmaMs,
      })),
    };
  });

  app.get('/edge/metrics', async (_request, reply) => {
    reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    return metrics.render(monitor.snapshot());
  });
}
