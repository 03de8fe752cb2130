import {
  HttpErrorResponse,
  HttpResponse,
  type HttpEvent,
  type HttpHandlerFn,
  type HttpInterceptorFn,
  type HttpRequest,
} from '@angular/common/http';
import { InjectionToken, inject } from '@angular/core';
import { Observable, catchError, defer, switchMap, tap, throwError } from 'rxjs';
import { CLOCK, RANDOM, TIMERS, type Timers } from './browser.tokens';
import { LatencyReporter } from './latency-reporter.service';
import { REGION_HINT_HEADER, RegionRoutingService } from './region-routing.service';
import { regionsAllowedFor, scopeOf } from './regions';

/** The same policy as the edge's (STYLE.md rule 6): transient failures only, capped backoff. */
export interface RetryPolicy {
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const RETRY_POLICY = new InjectionToken<RetryPolicy>('atlas.retry-policy', {
  providedIn: 'root',
  factory: () => ({ maxRetries: 2, baseDelayMs: 100, maxDelayMs: 1_000 }),
});

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const TRANSIENT = new Set([0, 429, 502, 503, 504]);

/** Capped exponential backoff with equal jitter: attempt 0 → 50–100 ms, 1 → 100–200 ms, … */
export function backoffMs(policy: RetryPolicy, attempt: number, random: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return ceiling / 2 + (random * ceiling) / 2;
}

function wait(timers: Timers, ms: number): Observable<void> {
  return new Observable<void>((subscriber) => {
    const handle = timers.setTimeout(() => {
      subscriber.next();
      subscriber.complete();
    }, ms);
    return () => timers.clearTimeout(handle);
  });
}

/** Raised instead of sending an organization's data to a region outside its jurisdiction. */
export class ResidencyRefusal extends HttpErrorResponse {
  constructor(url: string, named: string, home: string) {
    super({
      url,
      status: 421,
      statusText: 'Misdirected Request',
      error: {
        error: {
          code: 'ATLAS_ERR_WRONG_REGION',
          message: `refused to send this organization's data to ${named}: it lives in ${home}'s jurisdiction only`,
        },
      },
    });
  }
}

interface Attempt {
  /** Region named in the hint header; null lets the edge decide. */
  readonly target: string | null;
  /** Regions that already failed this request. */
  readonly tried: readonly string[];
  readonly retry: number;
  readonly replayed: boolean;
}

/**
 * Every /api request: names the region to use (the chosen one for global data, the home for
 * an organization's data), measures the round trip and reports it, retries transient
 * failures of idempotent requests, replays a 421 once to the region it names, and fails
 * global data over to the next healthy region. An organization's regional data is never sent
 * to a region outside its home's jurisdiction (rule R2): no hint, replay or failover does it.
 */
export const regionInterceptor: HttpInterceptorFn = (req: HttpRequest<unknown>, next: HttpHandlerFn): Observable<HttpEvent<unknown>> => {
  const path = req.url.replace(/^https?:\/\/[^/]+/, '');
  if (!path.startsWith('/api/') || path.startsWith('/api/metrics/latency')) return next(req);
  const routing = inject(RegionRoutingService);
  const reporter = inject(LatencyReporter);
  const clock = inject(CLOCK);
  const timers = inject(TIMERS);
  const random = inject(RANDOM);
  const policy = inject(RETRY_POLICY);

  const scope = scopeOf(path);
  const home = scope.kind === 'regional' ? routing.homeOf(scope.orgId) : undefined;
  // Unknown home (topology not loaded, or an id of no known region): no hint, no failover.
  const allowed = scope.kind === 'regional' ? (home ? regionsAllowedFor(routing.regions(), home).map((r) => r.region) : []) : null;
  const idempotent = IDEMPOTENT.has(req.method);
  const known = (id: string | null): id is string => id !== null && routing.regions().some((r) => r.region === id);

  const send = (a: Attempt): Observable<HttpEvent<unknown>> =>
    defer(() => {
      const started = clock();
      const sample = (headers: { get(name: string): string | null } | undefined) => {
        const served = headers?.get('atlas-region') ?? null;
        if (known(served)) reporter.add(served, clock() - started);
      };
      const outgoing = a.target === null ? req : req.clone({ setHeaders: { [REGION_HINT_HEADER]: a.target } });
      return next(outgoing).pipe(
        tap((event) => {
          if (!(event instanceof HttpResponse)) return;
          sample(event.headers);
          // The edge served a global request elsewhere because our region is down: it knows first.
          const served = event.headers.get('atlas-region');
          if (
            scope.kind === 'global' &&
            a.target !== null &&
            served !== a.target &&
            event.headers.get('atlas-route-preferred') === a.target
          ) {
            routing.reportFailure(a.target, `the edge failed over to ${served}`);
          }
        }),
        catchError((err: unknown) => {
          if (!(err instanceof HttpErrorResponse)) return throwError(() => err);
          sample(err.headers);
          return recover(a, err);
        }),
      );
    });

  const recover = (a: Attempt, err: HttpErrorResponse): Observable<HttpEvent<unknown>> => {
    const named = err.headers?.get('atlas-region') ?? null;
    if (err.status === 421 && known(named)) {
      if (a.replayed) return throwError(() => err);
      if (allowed !== null && !allowed.includes(named))
        return throwError(() => new ResidencyRefusal(req.url, named, home?.region ?? 'its home'));
      return send({ target: named, tried: a.tried, retry: 0, replayed: true });
    }
    if (!TRANSIENT.has(err.status)) return throwError(() => err);
    const reason = err.headers?.get('atlas-route-reason') ?? '';
    // The edge itself said no region may serve this (R2, or nothing up): retrying cannot help.
    if (reason.startsWith('unavailable:')) return throwError(() => err);
    // An answer from the edge itself means the request was never forwarded: safe to resend.
    const notApplied = named === 'edge' || err.status === 429;
    if (a.retry < policy.maxRetries && (idempotent || notApplied)) {
      return wait(timers, backoffMs(policy, a.retry, random())).pipe(switchMap(() => send({ ...a, retry: a.retry + 1 })));
    }
    const failed = a.target ?? (known(named) ? named : null);
    if (failed !== null && err.status !== 429)
      routing.reportFailure(failed, `HTTP ${err.status || 'network error'} on ${req.method} ${path}`);
    if (!idempotent && !notApplied) return throwError(() => err);
    const tried = failed === null ? a.tried : [...a.tried, failed];
    const candidates = routing.failoverCandidates(tried).filter((id) => allowed === null || allowed.includes(id));
    const nextRegion = candidates[0];
    if (nextRegion === undefined) return throwError(() => err);
    return send({ target: nextRegion, tried, retry: 0, replayed: a.replayed });
  };

  // A caller may name the region of a global request (an organization's home); else the chosen one.
  const requested = req.headers.get(REGION_HINT_HEADER);
  const first = allowed !== null ? (allowed[0] ?? null) : known(requested) ? requested : routing.current();
  return send({ target: first, tried: [], retry: 0, replayed: false });
};
