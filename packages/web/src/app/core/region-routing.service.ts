import { Injectable, InjectionToken, computed, inject, signal, type OnDestroy } from '@angular/core';
import { CLOCK, FETCH, NAVIGATOR, STORAGE, TIMERS, WALL_CLOCK } from './browser.tokens';
import { LatencyReporter } from './latency-reporter.service';
import { UNKNOWN_HEALTH, applyCheck, homeOfOrg, rankRegions, selectRegion, type RegionHealth, type RegionInfo } from './regions';

export interface RegionRoutingConfig {
  /** Health check period, ms (30 s as the seed asks; the e2e suite shortens it). */
  readonly healthIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly downAfter: number;
  readonly upAfter: number;
  readonly ewmaAlpha: number;
  readonly switchMargin: number;
}

export const DEFAULT_REGION_ROUTING: RegionRoutingConfig = Object.freeze({
  healthIntervalMs: 30_000,
  probeTimeoutMs: 5_000,
  downAfter: 2,
  upAfter: 2,
  ewmaAlpha: 0.3,
  switchMargin: 0.3,
});

/** Storage key that overrides the health interval (ms), e.g. set by an operator or a test. */
export const HEALTH_INTERVAL_KEY = 'atlas.health-interval-ms';
const MANUAL_KEY = 'atlas.region';

export const REGION_ROUTING_CONFIG = new InjectionToken<RegionRoutingConfig>('atlas.region-routing-config', {
  providedIn: 'root',
  factory: () => {
    const raw = Number(inject(STORAGE).getItem(HEALTH_INTERVAL_KEY));
    return Number.isInteger(raw) && raw >= 200 ? { ...DEFAULT_REGION_ROUTING, healthIntervalMs: raw } : DEFAULT_REGION_ROUTING;
  },
});

/** The header naming the client's chosen region; the edge honours it for global data only. */
export const REGION_HINT_HEADER = 'atlas-region-hint';

export interface RoutingEvent {
  readonly at: number;
  readonly kind: 'detected' | 'selected' | 'failover' | 'manual' | 'down' | 'up';
  readonly message: string;
}

/**
 * Where this browser's requests go (ARCHITECTURE.md §4, client side), as signals: the region
 * the edge's geography picked, each region's health and latency measured through the edge,
 * the region in use, automatic failover with hysteresis, and a manual switch.
 */
@Injectable({ providedIn: 'root' })
export class RegionRoutingService implements OnDestroy {
  private readonly fetch = inject(FETCH);
  private readonly clock = inject(CLOCK);
  private readonly wall = inject(WALL_CLOCK);
  private readonly timers = inject(TIMERS);
  private readonly storage = inject(STORAGE);
  private readonly navigator = inject(NAVIGATOR);
  private readonly reporter = inject(LatencyReporter);
  readonly config = inject(REGION_ROUTING_CONFIG);

  readonly regions = signal<readonly RegionInfo[]>([]);
  readonly health = signal<Readonly<Record<string, RegionHealth>>>({});
  /** The region the edge chose for us without a hint (country, else latency), and why. */
  readonly detected = signal<{ region: string; reason: string } | null>(null);
  readonly current = signal<string | null>(null);
  readonly manual = signal(false);
  readonly events = signal<readonly RoutingEvent[]>([]);
  readonly loading = signal(true);
  readonly error = signal<string | null>(null);
  /** The browser says it has no network: failures then say nothing about the regions. */
  readonly offline = signal(false);

  readonly currentRegion = computed(() => this.regions().find((r) => r.region === this.current()) ?? null);
  readonly ranked = computed(() => rankRegions(this.regions(), this.health()));

  private timer: unknown = null;
  private checking: Promise<void> | null = null;
  private started: Promise<void> | null = null;

  /** Loads the topology, asks the edge where we are, measures every region, picks one, then checks on a timer. */
  start(): Promise<void> {
    this.started ??= this.boot();
    return this.started;
  }

  private async boot(): Promise<void> {
    try {
      const res = await this.timed('/api/regions', {});
      if (!res.response.ok) throw new Error(`the edge answered ${res.response.status}`);
      const body = (await res.response.json()) as { regions: RegionInfo[] };
      this.regions.set(body.regions);
      this.health.set(Object.fromEntries(body.regions.map((r) => [r.region, UNKNOWN_HEALTH])));
      const served = res.response.headers.get('atlas-region');
      const reason = res.response.headers.get('atlas-route-reason') ?? 'edge';
      if (served && body.regions.some((r) => r.region === served)) {
        this.detected.set({ region: served, reason });
        this.log('detected', `the edge routed this browser to ${served} (${reason})`);
      }
      const saved = this.storage.getItem(MANUAL_KEY);
      if (saved && body.regions.some((r) => r.region === saved)) {
        this.current.set(saved);
        this.manual.set(true);
      }
      await this.checkAll();
      this.error.set(null);
    } catch (err) {
      this.error.set(`cannot reach Atlas: ${(err as Error).message}`);
    } finally {
      this.loading.set(false);
    }
    this.timer = this.timers.setInterval(() => void this.checkAll(), this.config.healthIntervalMs);
  }

  ngOnDestroy(): void {
    if (this.timer !== null) this.timers.clearInterval(this.timer);
    this.timer = null;
  }

  /** One round of checks of every region (at most one round at a time), then a new selection. */
  checkAll(): Promise<void> {
    // .finally runs after the assignment even when the round ends at once (offline).
    this.checking ??= this.checkRound().finally(() => (this.checking = null));
    return this.checking;
  }

  private async checkRound(): Promise<void> {
    this.offline.set(!this.navigator.onLine);
    if (this.offline()) return;
    const outcomes = await Promise.all(this.regions().map(async (r) => [r.region, await this.probe(r.region)] as const));
    const now = this.wall();
    const before = this.health();
    const next: Record<string, RegionHealth> = { ...before };
    for (const [id, outcome] of outcomes) {
      next[id] = applyCheck(before[id] ?? UNKNOWN_HEALTH, outcome, this.config, now);
      if (before[id]?.state === 'up' && next[id].state === 'down') this.log('down', `${id} is down: ${next[id].lastError}`);
      if (before[id]?.state === 'down' && next[id].state === 'up') this.log('up', `${id} is back`);
    }
    this.health.set(next);
    this.reselect();
  }

  /**
   * A request through `region` failed in a way that says the region is unwell (the
   * interceptor calls this): count it as a failed check and choose again at once, rather
   * than wait up to a whole interval.
   */
  reportFailure(region: string, error: string): void {
    const before = this.health()[region];
    if (!before || !this.navigator.onLine) return;
    const after = applyCheck(before, { ok: false, error }, this.config, this.wall());
    this.health.update((h) => ({ ...h, [region]: after }));
    if (before.state === 'up' && after.state === 'down') this.log('down', `${region} is down: ${error}`);
    this.reselect();
  }

  /**
   * Manual switch (the region selector). Refuses a region that is down or unknown. Choosing the
   * region already in use pins it: automatic selection no longer moves away while it is up.
   */
  switchRegion(region: string): boolean {
    const target = this.regions().find((r) => r.region === region);
    if (!target || this.health()[region]?.state === 'down') return false;
    const from = this.current();
    if (from === region && this.manual()) return true;
    this.current.set(region);
    this.manual.set(true);
    this.storage.setItem(MANUAL_KEY, region);
    this.log('manual', from === region ? `kept ${region} by hand` : `switched by hand from ${from ?? 'none'} to ${region}`);
    return true;
  }

  /** Back to automatic selection (the detected region, else the fastest). */
  automatic(): void {
    this.manual.set(false);
    this.storage.removeItem(MANUAL_KEY);
    this.reselect();
  }

  /** The healthy regions to try for global data after `tried` failed, fastest first. */
  failoverCandidates(tried: readonly string[]): string[] {
    return this.ranked()
      .map((r) => r.region)
      .filter((id) => !tried.includes(id));
  }

  homeOf(orgId: string): RegionInfo | undefined {
    return homeOfOrg(this.regions(), orgId);
  }

  private reselect(): void {
    const previous = this.current();
    const choice = selectRegion({
      regions: this.regions(),
      health: this.health(),
      current: previous,
      manual: this.manual(),
      detected: this.detected()?.region ?? null,
      switchMargin: this.config.switchMargin,
    });
    if (choice.region === null) {
      if (previous !== null) this.log('down', 'no region answers; requests will fail until one is back');
      return;
    }
    if (choice.region === previous) return;
    this.current.set(choice.region);
    if (previous !== null && this.manual() && choice.reason === 'failover') {
      // The region picked by hand failed: automatic again, so we may come back by ourselves.
      this.manual.set(false);
      this.storage.removeItem(MANUAL_KEY);
    }
    this.log(
      previous !== null && choice.reason === 'failover' ? 'failover' : 'selected',
      previous === null ? `using ${choice.region} (${choice.reason})` : `${previous} → ${choice.region} (${choice.reason})`,
    );
  }

  /** A timed GET of /api/regions/current pinned to `region`: ok only if that region answered. */
  private async probe(region: string): Promise<{ ok: true; rttMs: number } | { ok: false; error: string }> {
    try {
      const { response, rttMs } = await this.timed('/api/regions/current', { [REGION_HINT_HEADER]: region });
      const served = response.headers.get('atlas-region');
      if (!response.ok) return { ok: false, error: `HTTP ${response.status}` };
      if (served !== region)
        return {
          ok: false,
          error: `the edge sent the probe to ${served ?? 'another region'} (${response.headers.get('atlas-route-reason') ?? 'failover'})`,
        };
      this.reporter.add(region, rttMs);
      return { ok: true, rttMs };
    } catch (err) {
      return {
        ok: false,
        error: (err as Error).name === 'AbortError' ? `no answer in ${this.config.probeTimeoutMs} ms` : (err as Error).message,
      };
    }
  }

  private async timed(url: string, headers: Record<string, string>): Promise<{ response: Response; rttMs: number }> {
    const controller = new AbortController();
    const timeout = this.timers.setTimeout(() => controller.abort(), this.config.probeTimeoutMs);
    const started = this.clock();
    try {
      const response = await this.fetch(url, {
        headers: { accept: 'application/json', ...headers },
        cache: 'no-store',
        signal: controller.signal,
      });
      return { response, rttMs: this.clock() - started };
    } finally {
      this.timers.clearTimeout(timeout);
    }
  }

  private log(kind: RoutingEvent['kind'], message: string): void {
    this.events.update((list) => [{ at: this.wall(), kind, message }, ...list].slice(0, 20));
  }
}
