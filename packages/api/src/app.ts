import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AtlasDb } from '@atlas/db';
import type { ApiConfig } from './config';
import type { AppContext } from './context';
import { GlobalRowCache, memoryCache, noCache, redisCache } from './lib/cache';
import { listenForChanges } from './lib/change-listener';
import { bodyStoreFor } from './lib/body-store';
import { DocumentStore } from './lib/document-store';
import { registerErrorHandling } from './plugins/errors';
import { createMetrics, registerMetrics } from './plugins/metrics';
import { registerOpenApi } from './plugins/openapi';
import { requireHomeRegion } from './plugins/residency';
import { registerDrHosting } from './plugins/residency-dr';
import { registerValidation } from './plugins/validation';
import { registerSecurity, securityRegionalRoutes } from './security/register-security';
import { auditEventRoutes } from './routes/audit-events/audit-events.routes';
import { crmRoutes } from './routes/crm/crm-resource';
import { activities, annonces, dossiers } from './routes/crm/crm.resources';
import { documentRoutes } from './routes/documents/documents.routes';
import { healthRoutes } from './routes/health/health.routes';
import { latencyRoutes } from './routes/latency/latency.routes';
import { orgRoutes } from './routes/orgs/orgs.routes';
import { referentialRoutes } from './routes/referential/referential.routes';
import { regionRoutes } from './routes/regions/regions.routes';
import { replicationRoutes } from './routes/replication/replication.routes';
import { statusRoutes } from './routes/status/status.routes';
import { preferenceRoutes } from './routes/users/preferences.routes';
import { userRoutes } from './routes/users/users.routes';

/** How long start-up waits for the cache invalidation stream before serving without the cache. */
const STREAM_WAIT_MS = 5_000;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface BuildOptions {
  /** Pino logger options, or false for none (tests). */
  readonly logger?: boolean | Record<string, unknown>;
}

/**
 * One region's API. Every region in the local cluster, in tests and in AWS is this same
 * call with a different config.
 */
export async function buildApp(config: ApiConfig, db: AtlasDb, options: BuildOptions = {}): Promise<FastifyInstance> {
  const region = config.region.id;
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel, base: { region, service: 'atlas-api' } },
    bodyLimit: config.bodyLimit,
    // A caller's request id is kept (the edge sets one); otherwise a fresh one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: true,
  });

  const metrics = createMetrics(region);
  const count = (event: string) => (table: string) => metrics.cacheEvents.inc({ region, table, event });
  // Without the invalidation stream nothing could keep cached rows fresh: cache nothing.
  const store = !config.cacheStreamUrl ? noCache() : config.redisUrl ? redisCache(config.redisUrl, region) : memoryCache();
  const cache = new GlobalRowCache(store, {
    hit: count('hit'),
    miss: count('miss'),
    invalidated: count('invalidation'),
  });
  const bodies = bodyStoreFor(config);
  const ctx: AppContext = {
    config,
    db,
    documents: new DocumentStore(bodies, config.documentKey),
    metrics,
    cache,
  };
  app.decorate('atlas', ctx);
  // Nothing is served from the cache before invalidations can reach it: suspended until the
  // stream's first reset, and again whenever the stream is lost.
  cache.suspend();
  const listener = config.cacheStreamUrl
    ? listenForChanges(config.cacheStreamUrl, {
        onChange: (table, key) => cache.invalidate(table, key),
        onReset: () => cache.reset(),
        onLost: () => cache.suspend(),
        onError: (err) => app.log.warn({ err }, 'cache invalidation stream lost; reading global rows from the database until it reconnects'),
      })
    : undefined;
  if (!listener) app.log.warn('no cache invalidation stream configured (ATLAS_CACHE_STREAM_URL): global rows are not cached');
  app.addHook('onReady', async () => {
    // Wait a little for the stream so the first requests can use the cache; a stream that
    // cannot connect (no free slot, a wrong password) must not keep the API from serving.
    const waited = await Promise.race([listener?.ready.then(() => true), new Promise<false>((r) => setTimeout(r, STREAM_WAIT_MS, false).unref())]);
    if (listener && !waited) app.log.warn(`the cache invalidation stream is not up after ${STREAM_WAIT_MS} ms: serving global rows from the database until it is`);
  });
  app.addHook('onClose', async () => {
    await listener?.close();
    await cache.store.close();
    bodies.close();
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('atlas-served-by', region);
    reply.header('x-content-type-options', 'nosniff');
  });

  registerValidation(app);
  registerErrorHandling(app);
  // A DR partner hands a failed-over region's requests to that region's own app, before authentication.
  registerDrHosting(app, ctx, (c, d) => buildApp(c, d, options));
  // Before any route: rate limits, headers, CORS and authentication apply to all that follow.
  await registerSecurity(app, ctx);
  // JSON only, except where a route scope says otherwise (document bodies).
  app.removeContentTypeParser('text/plain');
  await registerOpenApi(app, config.region);
  registerMetrics(app, ctx.metrics, region);

  await app.register(healthRoutes);
  await app.register(regionRoutes);
  await app.register(orgRoutes);
  await app.register(preferenceRoutes);
  await app.register(referentialRoutes);
  await app.register(latencyRoutes);
  await app.register(replicationRoutes);
  await app.register(statusRoutes);
  // Regional data: the residency guard runs before the body is even parsed.
  await app.register(async (regional) => {
    regional.addHook('onRequest', requireHomeRegion(ctx));
    await regional.register(crmRoutes(dossiers));
    await regional.register(crmRoutes(annonces));
    await regional.register(crmRoutes(activities));
    await regional.register(documentRoutes);
    await regional.register(userRoutes);
    await regional.register(auditEventRoutes);
    await regional.register(securityRegionalRoutes);
  });
  return app;
}
