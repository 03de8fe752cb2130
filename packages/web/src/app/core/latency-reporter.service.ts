import { Injectable, inject } from '@angular/core';
import { AuthService } from './auth.service';
import { FETCH, TIMERS } from './browser.tokens';

const MAX_BATCH = 50;
const FLUSH_AFTER_MS = 10_000;

/**
 * Batches measured round trips and reports them with POST /api/metrics/latency (the API
 * takes 1–50 samples per call). Sent with the raw fetch: a report is not itself measured,
 * retried or failed over, and losing one is harmless.
 */
@Injectable({ providedIn: 'root' })
export class LatencyReporter {
  private readonly fetch = inject(FETCH);
  private readonly timers = inject(TIMERS);
  private readonly auth = inject(AuthService);
  private pending: { toRegion: string; rttMs: number }[] = [];
  private timer: unknown = null;

  add(toRegion: string, rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    this.pending.push({ toRegion, rttMs: Math.round(rttMs * 10) / 10 });
    if (this.pending.length >= MAX_BATCH) void this.flush();
    else this.timer ??= this.timers.setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
  }

  /** Samples waiting to be sent (for specs and the status view). */
  get queued(): number {
    return this.pending.length;
  }

  async flush(): Promise<void> {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    const samples = this.pending.splice(0, MAX_BATCH);
    if (samples.length === 0) return;
    const token = this.auth.session()?.token;
    await this.fetch('/api/metrics/latency', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ samples }),
    }).catch(() => undefined);
  }
}
