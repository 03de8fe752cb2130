import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { AtlasError } from '@atlas/core';
import { ConnectionHold, HOLD_MAX_SECONDS } from './connection-hold';
import { memoryLimiter, redisLimiter, type RateLimiter } from './rate-limiter';
import { EarlyRefusal, orgIdOfUrl, rateLimitedMessage, type LimitedScope } from './early-refusal';
import type { SecurityConfig } from './security-config';

/** Throws 429 once an organization has used up its budget. */
export type OrganizationLimiter = (orgId: string) => Promise<void>;

export interface HardeningOptions {
  /** Shared counters for every API process of the region; in-process buckets when absent. */
  readonly redisUrl?: string;
  readonly region: string;
  /** Called when Redis could not answer and this process's own bucket decided. */
  readonly onRedisFallback?: (err: unknown) => void;
  /**
   * The organization of a bearer token already verified by authentication (a cache lookup, no
   * signature check), so that an over-budget organization's requests are refused before any
   * token work whatever URL they call; undefined for a token not verified yet.
   */
  readonly verifiedOrgOf?: (token: string, nowMs: number) => string | undefined;
}

interface Limiters {
  readonly byIp: RateLimiter;
  readonly byOrg: RateLimiter;
  /** Resolves once the shared store answers, or after a bounded wait (then: per-process until it does). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

function limiters(security: SecurityConfig, options: HardeningOptions): Limiters {
  if (!options.redisUrl) {
    return { byIp: memoryLimiter(security.rateLimitPerIp), byOrg: memoryLimiter(security.rateLimitPerOrg), ready: async () => undefined, close: async () => undefined };
  }
  const url = options.redisUrl;
  const connection = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 250,
    ...(url.startsWith('rediss://') ? { tls: {} } : {}),
    ...(process.env.REDIS_PASSWORD ? { password: process.env.REDIS_PASSWORD } : {}),
  });
  connection.on('error', () => undefined);
  const events = options.onRedisFallback ? { fallback: options.onRedisFallback } : {};
  return {
    byIp: redisLimiter(connection, options.region, 'ip', security.rateLimitPerIp, events),
    byOrg: redisLimiter(connection, options.region, 'org', security.rateLimitPerOrg, events),
    ready: () =>
      new Promise<void>((resolve) => {
        if (connection.status === 'ready') return resolve();
        const timer = setTimeout(resolve, 2_000);
        connection.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      }),
    close: async () => void (await connection.quit().catch(() => connection.disconnect())),
  };
}

/**
 * Rate limits per client IP and per organization, 429 + Retry-After; security headers on every
 * response; CORS for allow-listed origins only. Counters are shared through Redis when
 * REDIS_URL is set (one budget per region however many processes serve it), else kept per process.
 *
 * Who may spend a budget: a client address spends its own on every /api/ request; an
 * organization's is spent only by authentication, once a token proves which organization is
 * calling (the OrganizationLimiter returned here), so nobody can spend another tenant's budget.
 *
 * Who is refused early: the first onRequest hook (before routing work, token verification,
 * body parsing, database, audit) answers 429 straight away when a budget is already known to be
 * empty — the address's, the organization the URL names (/api/orgs/<id>/…), or the organization
 * of a token this process has already verified. Those tests only look at buckets (synchronous,
 * nothing spent), so a URL or a token naming another organization cannot make that organization
 * get 429s; the answer is a precomputed reply (early-refusal.ts). The one thing a stranger learns
 * from it is that an organization is over its budget right now. After such a refusal the
 * client's own connection is not read until its Retry-After (connection-hold.ts), so a client
 * ignoring Retry-After over keep-alive connections costs one refusal per connection per wait.
 */
export function registerHardening(app: FastifyInstance, security: SecurityConfig, options: HardeningOptions): OrganizationLimiter {
  const { byIp, byOrg, ready, close } = limiters(security, options);
  app.addHook('onReady', ready);
  app.addHook('onClose', close);
  const allowed = new Set(security.corsOrigins);
  const refusal = new EarlyRefusal(options.region, new ConnectionHold(security.rateLimitHoldMaxSeconds ?? HOLD_MAX_SECONDS));
  const verifiedOrgOf = options.verifiedOrgOf;

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const origin = request.headers.origin;
    const corsOrigin = typeof origin === 'string' && allowed.has(origin) ? origin : undefined;
    // Health and metrics are for the platform's own probes, which must never be throttled.
    if (request.url.startsWith('/api/')) {
      const now = Date.now();
      const ip = request.ip;
      let waitMs = byIp.refusedForMs(ip, now);
      if (waitMs > 0) return refusal.send(request, reply, 'address', waitMs, corsOrigin);
      // A preflight spends no organization budget and is not refused for one: the browser must
      // be able to send the request whose 429 (and Retry-After) it will then read.
      const preflight = request.method === 'OPTIONS';
      const named = preflight ? undefined : orgIdOfUrl(request.url);
      if (named !== undefined && (waitMs = byOrg.refusedForMs(named, now)) > 0) return refusal.send(request, reply, 'organization', waitMs, corsOrigin);
      const authorization = request.headers.authorization;
      if (!preflight && verifiedOrgOf !== undefined && typeof authorization === 'string' && authorization.startsWith('Bearer ')) {
        const proven = verifiedOrgOf(authorization.slice(7), now);
        if (proven !== undefined && proven !== named && (waitMs = byOrg.refusedForMs(proven, now)) > 0) return refusal.send(request, reply, 'organization', waitMs, corsOrigin);
      }
      corsHeaders(reply, corsOrigin);
      byIp.take(ip).then(
        (take) => (take.allowed ? done() : done(limited('address', take.retryAfterSeconds))),
        (err: Error) => done(err),
      );
      return;
    }
    corsHeaders(reply, corsOrigin);
    done();
  });

  // Preflight: answered here for allowed origins, refused for the others.
  app.options('/*', { config: { public: true }, schema: { hide: true } }, async (request, reply) => {
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || !allowed.has(origin)) {
      throw new AtlasError('ATLAS_ERR_FORBIDDEN', 'this origin may not call the API');
    }
    return reply
      .code(204)
      .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE')
      .header('access-control-allow-headers', 'authorization, content-type, x-request-id')
      .header('access-control-max-age', '600')
      .send();
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('strict-transport-security', 'max-age=63072000; includeSubDomains');
    if (request.url.startsWith('/api/')) {
      // API answers hold tenant and personal data: no script context, no shared caches.
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
      reply.header('cache-control', 'no-store');
    }
  });

  return async (orgId) => {
    const take = await byOrg.take(orgId);
    if (!take.allowed) throw limited('organization', take.retryAfterSeconds);
  };
}

function corsHeaders(reply: FastifyReply, corsOrigin: string | undefined): void {
  if (corsOrigin !== undefined) {
    reply.header('access-control-allow-origin', corsOrigin);
    reply.header('access-control-expose-headers', 'atlas-region, retry-after, x-request-id');
  }
  reply.header('vary', 'Origin');
}

/** The 429 of a request that spent the last of a budget (the next ones get EarlyRefusal's). */
function limited(scope: LimitedScope, retryAfterSeconds: number): AtlasError {
  return new AtlasError('ATLAS_ERR_RATE_LIMITED', rateLimitedMessage(scope, retryAfterSeconds), { 'retry-after': String(retryAfterSeconds) });
}
