import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AtlasError } from '@atlas/core';
import type { SecurityConfig } from './security-config';
import { TokenBuckets } from './token-bucket';

/** Throws 429 once an organization has used up its budget. */
export type OrganizationLimiter = (orgId: string) => void;

/**
 * Rate limits per client IP (checked first on every request, so a flood costs no token
 * verification or database work) and per organization (checked by authentication once the
 * token proves which organization is calling, so nobody can spend another tenant's budget):
 * 429 + Retry-After. Security headers on every response; CORS for allow-listed origins only.
 */
export function registerHardening(app: FastifyInstance, security: SecurityConfig, now: () => number = Date.now): OrganizationLimiter {
  const byIp = new TokenBuckets(security.rateLimitPerIp);
  const byOrg = new TokenBuckets(security.rateLimitPerOrg);
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
    const take = byIp.take(request.ip, now());
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

  return (orgId) => {
    const take = byOrg.take(orgId, now());
    if (!take.allowed) throw limited('this organization', take.retryAfterSeconds);
  };
}

function limited(who: string, retryAfterSeconds: number): AtlasError {
  return new AtlasError('ATLAS_ERR_RATE_LIMITED', `too many requests from ${who}; retry in ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) });
}
