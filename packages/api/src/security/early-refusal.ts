import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConnectionHold } from './connection-hold';

/** Whose budget ran out; the words of the 429 message. */
export type LimitedScope = 'address' | 'organization';

const WHO: Record<LimitedScope, string> = { address: 'this address', organization: 'this organization' };

/** The 429 message, the same whichever path refuses. */
export function rateLimitedMessage(scope: LimitedScope, retryAfterSeconds: number): string {
  return `too many requests from ${WHO[scope]}; retry in ${retryAfterSeconds} s`;
}

/** Bodies are kept for waits up to this long (longer ones are built per request). */
const CACHED_SECONDS = 3_600;

/** The headers every API answer carries (app.ts and hardening.plugin.ts set them on the normal path). */
export function apiAnswerHeaders(region: string): readonly string[] {
  return [
    'content-type', 'application/json; charset=utf-8',
    'vary', 'Origin',
    'x-content-type-options', 'nosniff',
    'x-frame-options', 'DENY',
    'referrer-policy', 'no-referrer',
    'cross-origin-opener-policy', 'same-origin',
    'cross-origin-resource-policy', 'same-origin',
    'strict-transport-security', 'max-age=63072000; includeSubDomains',
    'content-security-policy', "default-src 'none'; frame-ancestors 'none'",
    'cache-control', 'no-store',
    'atlas-served-by', region,
  ];
}

interface Body {
  readonly bytes: Buffer;
  readonly length: string;
  readonly seconds: string;
}

/**
 * The 429 of the earliest hook, written straight to the socket: no error object (no stack
 * capture), no error handler, no serialization, no onSend hooks. Bodies are built once per
 * (scope, seconds) and the header list is one reused array whose few per-request slots
 * (request id, Retry-After, length, CORS origin) are filled in place, so a refused request
 * allocates almost nothing. onResponse hooks still run (the request is counted in metrics).
 * With a ConnectionHold, the refused client's connection is then not read until its
 * Retry-After (connection-hold.ts).
 */
export class EarlyRefusal {
  private readonly bodies: Record<LimitedScope, Array<Body | undefined>> = { address: [], organization: [] };
  /** fixed headers, then x-request-id, retry-after, content-length. */
  private readonly plain: string[];
  /** the same, then access-control-allow-origin and -expose-headers. */
  private readonly cors: string[];
  private readonly slot: number;

  constructor(
    region: string,
    private readonly hold?: ConnectionHold,
  ) {
    const fixed = apiAnswerHeaders(region);
    this.slot = fixed.length;
    this.plain = [...fixed, 'x-request-id', '', 'retry-after', '', 'content-length', ''];
    this.cors = [...this.plain, 'access-control-allow-origin', '', 'access-control-expose-headers', 'atlas-region, retry-after, x-request-id'];
  }

  /** Answers 429 for `scope`, retry in `waitMs` (rounded up to whole seconds, at least 1). */
  send(request: FastifyRequest, reply: FastifyReply, scope: LimitedScope, waitMs: number, corsOrigin: string | undefined): void {
    const body = this.body(scope, Math.max(1, Math.ceil(waitMs / 1000)));
    const headers = corsOrigin === undefined ? this.plain : this.cors;
    const at = this.slot;
    headers[at + 1] = request.id;
    headers[at + 3] = body.seconds;
    headers[at + 5] = body.length;
    if (corsOrigin !== undefined) headers[at + 7] = corsOrigin;
    reply.hijack();
    // writeHead copies the list into the header block at once, so the array can be reused.
    reply.raw.writeHead(429, headers);
    reply.raw.end(body.bytes);
    this.hold?.hold(request.raw, Number(body.seconds));
  }

  private body(scope: LimitedScope, seconds: number): Body {
    const cached = seconds <= CACHED_SECONDS ? this.bodies[scope][seconds] : undefined;
    if (cached) return cached;
    const bytes = Buffer.from(JSON.stringify({ error: { code: 'ATLAS_ERR_RATE_LIMITED', message: rateLimitedMessage(scope, seconds) } }));
    const body = { bytes, length: String(bytes.length), seconds: String(seconds) };
    if (seconds <= CACHED_SECONDS) this.bodies[scope][seconds] = body;
    return body;
  }
}

const ORG_PREFIX = '/api/orgs/';

/**
 * The organization id a URL names (/api/orgs/<id> or /api/orgs/<id>/…), unverified: good only
 * for looking at that organization's bucket, never for spending from it or granting anything.
 */
export function orgIdOfUrl(url: string): string | undefined {
  if (!url.startsWith(ORG_PREFIX)) return undefined;
  let end = ORG_PREFIX.length;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 47 /* / */ || c === 63 /* ? */) break;
    end++;
  }
  return end === ORG_PREFIX.length ? undefined : url.slice(ORG_PREFIX.length, end);
}
