import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { AtlasError } from '@atlas/core';
import { memoryLimiter, redisLimiter, type RateLimiter } from './rate-limiter';
import type { SecurityConfig } from './security-config';

/** Throws 429 once an organization has used up its budget. */
export type OrganizationLimiter = (orgId: string) => Promise<void>;

export interface HardeningOptions {
  /** Shared counters for every API process of the region; in-process buckets when absent. */
  readonly redisUrl?: string;
  readonly region: string;
  /** Called when Redis could not answer and this process's own bucket decided. */
  readonly onRedisFallback?: (err: unknown) => void;
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
 * Rate limits per client IP (checked first on every request, so a flood costs no token
 * verification or database work) and per organization (checked by authentication once the
 * token proves which organization is calling, so nobody can spend another tenant's budget):
 * 429 + Retry-After. Counters are shared through Redis when REDIS_URL is set (one budget per
 * region however many processes serve it), else kept per process. Security headers on every response; CORS for allow-listed origins only.
 */
export function registerHardening(app: FastifyInstance, security: SecurityConfig, options: HardeningOptions): OrganizationLimiter {
  const { byIp, byOrg, ready, close } = limiters(security, options);
  app.addHook('onReady', ready);
  app.addHook('onClose', close);
  const allowed = new Set(security.corsOrigins);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && allowed.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-expose-headers', 'atlas-region, retry-after, x-request-id');
    }
    reply.header('vary', 'Origin');
    // Health and metrics are for the platform's own probes, which must never be throttled.
    if (!request.url.startsWith('/api/')) return;
    const take = await byIp.take(request.ip);
    if (!take.allowed) throw limited('this address', take.retryAfterSeconds);
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
    if (!take.allowed) throw limited('this organization', take.retryAfterSeconds);
  };
}

function limited(who: string, retryAfterSeconds: number): AtlasError {
  return new AtlasError('ATLAS_ERR_RATE_LIMITED', `too many requests from ${who}; retry in ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) });
}
