import {
  applyCheck,
  initialHealth,
  updateEwma,
  type CheckOutcome,
  type HealthState,
  type RegionHealth,
  type RoutingView,
  type Topology,
} from '@atlas/core';
import type { EdgeHealthConfig } from './config';

export interface RegionStatus extends RegionHealth {
  readonly region: string;
  readonly jurisdiction: string;
  readonly upstream: string;
  /** EWMA of /healthz round trips from the edge, ms; null before the first good probe. */
  readonly ewmaMs: number | null;
}

export interface MonitorOptions {
  readonly topology: Topology;
  readonly upstreams: Readonly<Record<string, string>>;
  readonly health: EdgeHealthConfig;
  readonly ewmaAlpha: number;
  /** Wall clock for timestamps (epoch ms); the probes time themselves with performance.now. */
  readonly now?: () => number;
  readonly onTransition?: (region: string, from: HealthState, to: HealthState, health: RegionHealth) => void;
}

interface Slot {
  health: RegionHealth;
  ewmaMs: number | null;
  timer: NodeJS.Timeout | null;
  inFlight: Promise<void> | null;
}

/**
 * The edge's view of every region: an active /readyz check per region every interval
 * through the pure health machine (core/routing/health.ts), and a /healthz round trip per
 * interval into the latency EWMA. Each region has its own loop, so one slow region never
 * delays the checks of another.
 */
export class RegionMonitor {
  private readonly slots = new Map<string, Slot>();
  private readonly abort = new AbortController();
  private running = false;
  private readonly now: () => number;

  constructor(private readonly options: MonitorOptions) {
    this.now = options.now ?? Date.now;
    for (const r of options.topology.regions)
      this.slots.set(r.id, { health: initialHealth(this.now()), ewmaMs: null, timer: null, inFlight: null });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const id of this.slots.keys()) this.loop(id);
  }

  /** Stops every loop and waits for probes in flight, so nothing outlives the edge. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    for (const slot of this.slots.values()) if (slot.timer) clearTimeout(slot.timer);
    await Promise.allSettled([...this.slots.values()].map((s) => s.inFlight));
  }

  view(): RoutingView {
    const health: Record<string, HealthState> = {};
    const latencyMs: Record<string, number | undefined> = {};
    for (const [id, slot] of this.slots) {
      health[id] = slot.health.state;
      latencyMs[id] = slot.ewmaMs ?? undefined;
    }
    return { topology: this.options.topology, health, latencyMs };
  }

  snapshot(): RegionStatus[] {
    return this.options.topology.regions.map((r) => {
      const slot = this.slots.get(r.id)!;
      return {
        region: r.id,
        jurisdiction: r.jurisdiction,
        upstream: this.options.upstreams[r.id]!,
        ...slot.health,
        ewmaMs: slot.ewmaMs === null ? null : Math.round(slot.ewmaMs * 100) / 100,
      };
    });
  }

  /** One check of one region: what a loop does every interval (exposed for benches and tests). */
  async checkOnce(id: string): Promise<void> {
    const slot = this.slots.get(id);
    if (!slot) throw new Error(`unknown region ${id}`);
    const base = this.options.upstreams[id]!;
    const [ready, rtt] = await Promise.all([this.probe(`${base}/readyz`), this.probe(`${base}/healthz`)]);
    if (!this.running && this.abort.signal.aborted) return;
    if (rtt.ok) slot.ewmaMs = updateEwma(slot.ewmaMs, rtt.ms, this.options.ewmaAlpha);
    const outcome: CheckOutcome = ready.ok ? { ok: true } : { ok: false, error: ready.error };
    const t = applyCheck(slot.health, outcome, this.options.health, this.now());
    slot.health = t.health;
    if (t.changedFrom) this.options.onTransition?.(id, t.changedFrom, t.health.state, t.health);
  }

  private loop(id: string): void {
    const slot = this.slots.get(id)!;
    const started = performance.now();
    slot.inFlight = this.checkOnce(id)
      .catch(() => undefined)
      .finally(() => {
        slot.inFlight = null;
        if (!this.running) return;
        // Fixed rate, not fixed delay: a slow probe does not stretch the interval.
        const wait = Math.max(0, this.options.health.intervalMs - (performance.now() - started));
        slot.timer = setTimeout(() => this.loop(id), wait);
        slot.timer.unref();
      });
  }

  private async probe(url: string): Promise<{ ok: true; ms: number } | { ok: false; error: string }> {
    const started = performance.now();
    try {
      const res = await fetch(url, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.health.timeoutMs)]) });
      // Read the body so the keep-alive connection is reused for the next probe.
      await res.arrayBuffer();
      const ms = performance.now() - started;
      return res.ok ? { ok: true, ms } : { ok: false, error: `HTTP ${res.status}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const error = e.name === 'TimeoutError' ? `no answer in ${this.options.health.timeoutMs} ms` : (e.cause?.code ?? e.message);
      return { ok: false, error };
    }
  }
}
