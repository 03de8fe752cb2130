import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConnectionHold } from '@atlas/api/connection-hold';
import {
  classifyPath,
  countryOf,
  decideReplay,
  decideRoute,
  isIdempotent,
  retryAfterSeconds,
  retryDelayMs,
  type RouteDecision,
  type UpstreamOutcome,
} from '@atlas/core';
import type { EdgeConfig } from './config';
import type { CountryLookup } from './geo';
import type { EdgeMetrics } from './metrics';
import type { RegionMonitor } from './region-monitor';

export interface ProxyDeps {
  readonly config: EdgeConfig;
  readonly monitor: RegionMonitor;
  readonly metrics: EdgeMetrics;
  readonly lookupCountry: CountryLookup;
  /** The home region claimed by a verified token (authentication comes later). */
  readonly homeHint?: (request: FastifyRequest) => string | undefined;
}

/** The client's chosen region for requests that no organization's home decides (web app). */
export const CLIENT_REGION_HEADER = 'atlas-region-hint';

/** Sent with a replayed request: whoever receives it must not replay it again. */
export const REPLAY_HEADER = 'atlas-replay';
/** Region an edge answers itself as (its own endpoints, and 503s when no region may serve). */
export const EDGE_REGION = 'edge';

/** What reply-from really passes to onResponse (its typings say otherwise). */
interface UpstreamAnswer {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly stream: Readable;
}

type Routed = Extract<RouteDecision, { kind: 'route' }>;
type Unavailable = Extract<RouteDecision, { kind: 'unavailable' }>;

interface Hop {
  /** The region that answered 421, when this hop is the replay. */
  readonly replayedFrom?: string;
  /** No further replay in this chain (this hop is one, or the client's request was one). */
  readonly mayReplay: boolean;
}

export function sendUnavailable(reply: FastifyReply, decision: Unavailable, metrics: EdgeMetrics): FastifyReply {
  metrics.unavailable.inc({ preferred: decision.preferred ?? 'none', reason: decision.reason });
  return reply
    .code(503)
    .header('retry-after', String(decision.retryAfterS))
    .header('atlas-region', EDGE_REGION)
    .header('atlas-route-reason', decision.reason)
    .header('cache-control', 'no-store')
    .send({ error: { code: decision.code, message: decision.message, region: decision.preferred } });
}

function upstreamFailure(reply: FastifyReply, region: string, method: string, cause: string, retryAfterS: number): void {
  const applied = isIdempotent(method)
    ? 'it was retried and may be retried again safely'
    : `a ${method} is not retried by the edge: the region may or may not have applied it`;
  void reply
    .code(503)
    .header('retry-after', String(retryAfterS))
    .header('atlas-region', region)
    .header('cache-control', 'no-store')
    .send({ error: { code: 'ATLAS_ERR_REGION_UNAVAILABLE', message: `${region} did not answer (${cause}); ${applied}`, region } });
}

/**
 * The proxy: choose a region (core/routing/decide.ts), forward with @fastify/reply-from,
 * retry only what is idempotent and transient, and replay a 421 once to the region it names.
 * Bodies arrive as Buffers (see app.ts), so the same bytes can be sent a second time.
 */
export function registerProxy(app: FastifyInstance, deps: ProxyDeps, prefix: '/*' | '/api/*'): void {
  const { config, monitor, metrics } = deps;
  const retryAfterS = retryAfterSeconds(config.health);
  // Behind a load balancer the edge's client connections are shared: nothing is held then.
  const hold = new ConnectionHold(config.trustProxy ? 0 : config.rateLimitHoldMaxSeconds);

  const forward = (request: FastifyRequest, reply: FastifyReply, target: Routed, hop: Hop): void => {
    const body = Buffer.isBuffer(request.body) && request.method !== 'GET' && request.method !== 'HEAD' ? request.body : undefined;
    reply.from(`${config.upstreams[target.region]}${request.url}`, {
      timeout: config.upstreamTimeoutMs,
      // reply-from would JSON.stringify a parsed JSON body; ours is raw bytes, sent verbatim.
      ...(body ? { body, contentType: request.headers['content-type'] ?? 'application/octet-stream' } : {}),
      rewriteRequestHeaders: (_req, headers) => {
        const out: Record<string, string | string[] | undefined> = { ...headers };
        const peer = request.socket.remoteAddress ?? '';
        const prior = request.headers['x-forwarded-for'];
        out['x-forwarded-for'] = prior ? `${String(prior)}, ${peer}` : peer;
        out['x-forwarded-host'] = request.headers.host;
        out['x-forwarded-proto'] = request.protocol;
        out['x-request-id'] = request.id;
        if (hop.replayedFrom) out[REPLAY_HEADER] = '1';
        return out;
      },
      // Hop-by-hop headers describe the edge↔region connection, not the client's.
      rewriteHeaders: (headers) => {
        const { connection: _c, 'keep-alive': _k, ...rest } = headers as IncomingHttpHeaders;
        return rest;
      },
      retryDelay: ({ err, req, res, attempt }) => {
        const outcome: UpstreamOutcome | null = err ? { kind: 'network-error' } : res ? { kind: 'response', status: res.statusCode } : null;
        if (!outcome) return null;
        const delay = retryDelayMs(req.method ?? request.method, outcome, attempt, config.retry, Math.random());
        if (delay === null) return null;
        // Drain the failed answer, or its connection stays busy until garbage collection.
        (res as unknown as { stream?: NodeJS.ReadableStream } | undefined)?.stream?.resume();
        metrics.retries.inc({ region: target.region });
        return delay;
      },
      // reply-from hands back the same reply object; the outer one keeps its precise type.
      onError: (_reply, { error }) => {
        metrics.upstreamErrors.inc({ region: target.region, method: request.method });
        request.log.warn({ region: target.region, err: error }, 'region did not answer');
        reply.header('atlas-route-reason', target.reason);
        upstreamFailure(reply, target.region, request.method, (error as { code?: string }).code ?? error.message, retryAfterS);
      },
      onResponse: (_req, _reply, raw) => {
        const upstream = raw as unknown as UpstreamAnswer;
        const res = reply;
        const named = upstream.headers['atlas-region'];
        const replay =
          upstream.statusCode === 421 && typeof named === 'string' && hop.mayReplay
            ? decideReplay(monitor.view(), named, false)
            : undefined;
        if (replay) {
          // The region refused before reading or writing anything: safe to send again, any method.
          upstream.stream.resume();
          for (const name of Object.keys(res.getHeaders())) res.removeHeader(name);
          metrics.replays.inc({ from: target.region, to: named as string });
          res.header('atlas-replayed-from', target.region);
          if (replay.kind === 'unavailable') {
            sendUnavailable(res, replay, metrics);
            return;
          }
          forward(request, res, replay, { replayedFrom: target.region, mayReplay: false });
          return;
        }
        // A 421 passed back keeps naming the owner in atlas-region, for the client to replay.
        if (upstream.statusCode !== 421) res.header('atlas-region', target.region);
        res.header('atlas-route-reason', target.reason);
        if (hop.replayedFrom) res.header('atlas-replayed-from', hop.replayedFrom);
        if (target.preferred !== target.region) res.header('atlas-route-preferred', target.preferred);
        res.send(upstream.stream);
        // A region's 429: the client's own connection is not read until its Retry-After.
        if (upstream.statusCode === 429) {
          const wait = Number(upstream.headers['retry-after']);
          if (Number.isInteger(wait) && wait > 0) hold.hold(request.raw, wait);
        }
      },
    });
  };

  app.all(prefix, async (request, reply) => {
    const what = classifyPath(request.url);
    // The database look-up only when no CDN header already names the country.
    const country = countryOf(request.headers) ?? countryOf({}, deps.lookupCountry(request.ip));
    const hint = request.headers[CLIENT_REGION_HEADER];
    const decision = decideRoute(monitor.view(), {
      ...what,
      country,
      homeRegionHint: deps.homeHint?.(request),
      ...(typeof hint === 'string' ? { clientRegion: hint } : {}),
    });
    if (decision.kind === 'unavailable') return sendUnavailable(reply, decision, metrics);
    forward(request, reply, decision, { mayReplay: request.headers[REPLAY_HEADER] === undefined });
    return reply;
  });
}
