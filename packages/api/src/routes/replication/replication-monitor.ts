import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { replicationStatus, type SubscriptionStatus } from '@atlas/db';
import type { Executor } from '@atlas/db';
import { recordHealthEvent } from '../latency/latency.repository';

export const HIGH_REPLICATION_LAG = 'high_replication_lag';

/**
 * Polls this region's subscriptions (as the superuser: subscription internals are not
 * visible to the API role) into Prometheus gauges, counts new conflicts, and records a
 * region_health event when lag crosses the threshold (once per crossing, not per poll).
 */
export class ReplicationMonitor {
  private latest: SubscriptionStatus[] = [];
  private lastPollAt: Date | null = null;
  private lastError: string | null = null;
  private conflictsSeen = new Map<string, number>();
  private lagging = new Set<string>();
  private readonly lagSeconds: Gauge<'region' | 'peer'>;
  private readonly lagBytes: Gauge<'region' | 'peer'>;
  private readonly enabled: Gauge<'region' | 'peer'>;
  private readonly conflicts: Counter<'region' | 'peer'>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      readonly region: string;
      readonly adminUrl: string;
      readonly db: Executor;
      readonly registry: Registry;
      readonly lagAlertSeconds: number;
      readonly log: FastifyBaseLogger;
    },
  ) {
    const registers = [options.registry];
    this.lagSeconds = new Gauge({ name: 'atlas_replication_lag_seconds', help: 'Seconds from a commit in the peer to its apply here', labelNames: ['region', 'peer'], registers });
    this.lagBytes = new Gauge({ name: 'atlas_replication_lag_bytes', help: 'WAL of the peer not yet confirmed by this region', labelNames: ['region', 'peer'], registers });
    this.enabled = new Gauge({ name: 'atlas_replication_subscription_enabled', help: '1 when the subscription from the peer is enabled', labelNames: ['region', 'peer'], registers });
    this.conflicts = new Counter({ name: 'atlas_replication_conflicts_total', help: 'Replication conflicts resolved in this region', labelNames: ['region', 'peer'], registers });
  }

  get snapshot(): { subscriptions: SubscriptionStatus[]; polledAt: Date | null; error: string | null } {
    return { subscriptions: this.latest, polledAt: this.lastPollAt, error: this.lastError };
  }

  async poll(): Promise<SubscriptionStatus[]> {
    const { region } = this.options;
    try {
      this.latest = await replicationStatus(this.options.adminUrl);
      this.lastError = null;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    } finally {
      this.lastPollAt = new Date();
    }
    for (const s of this.latest) {
      const labels = { region, peer: s.peerRegion };
      this.enabled.set(labels, s.enabled ? 1 : 0);
      if (s.lagSeconds !== null) this.lagSeconds.set(labels, s.lagSeconds);
      if (s.lagBytes !== null) this.lagBytes.set(labels, s.lagBytes);
      const seen = this.conflictsSeen.get(s.peerRegion);
      if (seen !== undefined && s.conflicts > seen) this.conflicts.inc(labels, s.conflicts - seen);
      if (seen === undefined) this.conflicts.inc(labels, 0);
      this.conflictsSeen.set(s.peerRegion, s.conflicts);
      const high = s.lagSeconds !== null && s.lagSeconds > this.options.lagAlertSeconds;
      if (high && !this.lagging.has(s.peerRegion)) {
        this.lagging.add(s.peerRegion);
        await recordHealthEvent(this.options.db, region, HIGH_REPLICATION_LAG, {
          peer: s.peerRegion,
          lagSeconds: s.lagSeconds,
          lagBytes: s.lagBytes,
          thresholdSeconds: this.options.lagAlertSeconds,
        });
      } else if (!high) {
        this.lagging.delete(s.peerRegion);
      }
    }
    return this.latest;
  }

  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    const loop = () => {
      this.timer = setTimeout(() => {
        this.poll()
          .catch((err: Error) => this.options.log.warn({ err }, 'replication status poll failed'))
          .finally(() => {
            if (this.timer) loop();
          });
      }, intervalMs);
      this.timer.unref();
    };
    loop();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
