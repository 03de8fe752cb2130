import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ApiMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'route' | 'method' | 'status_code' | 'region'>;
  readonly wrongRegion: Counter<'region' | 'home_region'>;
  readonly cacheEvents: Counter<'region' | 'table' | 'event'>;
}

/** One registry per app instance, so several regions can run in one test process. */
export function createMetrics(region: string): ApiMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'atlas-api' });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'atlas_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method, status and serving region',
      labelNames: ['route', 'method', 'status_code', 'region'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    wrongRegion: new Counter({
      name: 'atlas_wrong_region_requests_total',
      help: `Requests answered 421 because the organization lives elsewhere (serving region ${region})`,
      labelNames: ['region', 'home_region'],
      registers: [registry],
    }),
    cacheEvents: new Counter({
      name: 'atlas_cache_events_total',
      help: 'Global-row cache hits, misses and invalidations by table',
      labelNames: ['region', 'table', 'event'],
      registers: [registry],
    }),
  };
}

export function registerMetrics(app: FastifyInstance, metrics: ApiMetrics, region: string): void {
  app.addHook('onResponse', async (request, reply) => {
    // The route template, not the URL: ids would explode the label set.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { route, method: request.method, status_code: String(reply.statusCode), region },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
