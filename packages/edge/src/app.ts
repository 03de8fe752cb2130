import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import replyFrom from '@fastify/reply-from';
import type { EdgeConfig } from './config';
import { noCountryLookup, openCountryLookup, type CountryLookup } from './geo';
import { EdgeMetrics } from './metrics';
import { EDGE_REGION, registerProxy } from './proxy';
import { RegionMonitor } from './region-monitor';
import { registerStatusRoutes } from './status.routes';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface BuildEdgeOptions {
  /** Pino logger options, or false for none (tests). Default: JSON at config.logLevel. */
  readonly logger?: boolean | Record<string, unknown>;
  /** Replaces the IP→country database (tests, or a CDN that always sends a country header). */
  readonly lookupCountry?: CountryLookup;
  /** The home region claimed by a verified token; the token layer plugs in here. */
  readonly homeHint?: (request: FastifyRequest) => string | undefined;
  /**
   * Serves the web app from config.webRoot (packages/web plugs in here). When present, the
   * edge proxies only /api/*; everything else outside /edge is the web app's.
   */
  readonly webApp?: (app: FastifyInstance, root: string) => Promise<void>;
}

export interface EdgeInstance extends FastifyInstance {
  readonly edgeMonitor: RegionMonitor;
  readonly edgeMetrics: EdgeMetrics;
}

/**
 * The edge router: one Fastify instance in front of every region. Health checks start when
 * the instance is ready and stop when it closes.
 */
export async function buildEdge(config: EdgeConfig, options: BuildEdgeOptions = {}): Promise<EdgeInstance> {
  if (config.webRoot && !options.webApp) {
    throw new Error(`configuration: ATLAS_EDGE_WEB_ROOT: ${config.webRoot} is set but no web app server is wired into the edge yet`);
  }
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel, base: { service: 'atlas-edge' } },
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: true,
  });
  const metrics = new EdgeMetrics();
  const monitor = new RegionMonitor({
    topology: config.topology,
    upstreams: config.upstreams,
    health: config.health,
    ewmaAlpha: config.ewmaAlpha,
    onTransition: (region, from, to, health) => {
      metrics.transitions.inc({ region, to });
      app.log.warn({ region, from, to, lastError: health.lastError }, `region ${region} is ${to}`);
    },
  });
  app.decorate('edgeMonitor', monitor);
  app.decorate('edgeMetrics', metrics);
  app.addHook('onReady', async () => monitor.start());
  app.addHook('onClose', async () => monitor.stop());

  // Bodies stay raw bytes: forwarded verbatim, and replayable after a 421.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (!reply.hasHeader('atlas-region')) reply.header('atlas-region', EDGE_REGION);
    if (!reply.hasHeader('atlas-route-reason')) reply.header('atlas-route-reason', 'edge');
  });
  app.addHook('onResponse', async (_request, reply) => {
    metrics.requests.inc({
      region: String(reply.getHeader('atlas-region') ?? EDGE_REGION),
      reason: String(reply.getHeader('atlas-route-reason') ?? 'edge'),
      status_class: `${Math.floor(reply.statusCode / 100)}xx`,
    });
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'edge error');
    const code = status === 413 ? 'ATLAS_ERR_PAYLOAD_TOO_LARGE' : status === 500 ? 'ATLAS_ERR_INTERNAL' : 'ATLAS_ERR_VALIDATION';
    // 5xx messages never reach clients; the log has them, keyed by request id.
    return reply.code(status).send({ error: { code, message: status === 500 ? 'internal error' : err.message } });
  });

  await app.register(replyFrom, { disableRequestLogging: true });
  const lookupCountry = options.lookupCountry ?? (config.countryDbPath ? openCountryLookup(config.countryDbPath) : noCountryLookup);
  registerStatusRoutes(app, { config, monitor, metrics, startedAt: new Date() });
  if (config.webRoot && options.webApp) {
    await options.webApp(app, config.webRoot);
    registerProxy(app, { config, monitor, metrics, lookupCountry, homeHint: options.homeHint }, '/api/*');
  } else {
    registerProxy(app, { config, monitor, metrics, lookupCountry, homeHint: options.homeHint }, '/*');
  }
  return app as unknown as EdgeInstance;
}
