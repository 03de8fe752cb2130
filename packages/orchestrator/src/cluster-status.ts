import type { SubscriptionStatus } from '@atlas/db';
import { callControl, controlUrl } from './control-client';
import type { OrchestratorStatus } from './daemon';

/**
 * The pieces of the one status view (ARCHITECTURE.md §7) that `atlas status` and every
 * region's `GET /api/status` share: how the orchestrator's failover state, replication links
 * and latency samples are read and summarised. Each source that does not answer comes back
 * as `undefined` (shown as unknown), never as an error that fails the whole view.
 */

/** Runs `work`; undefined when it throws (a source that does not answer). */
export const quietly = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
  try {
    return await work();
  } catch {
    return undefined;
  }
};

/** One region as the failover orchestrator sees it. */
export interface FailoverView {
  readonly region: string;
  readonly phase: string;
  /** 'kept' while a synchronous standby acknowledges every commit; 'suspended' otherwise. */
  readonly zeroLoss: string;
  readonly message: string;
  /** The region whose folder (locally) or site holds the current primary: a DR partner after a partner failover. */
  readonly primaryHost: string;
  readonly standbyHost: string;
  readonly since: string;
}

/** Every watched region's failover state from the running orchestrator; undefined when it does not answer. */
export async function fetchFailoverViews(home: string, timeoutMs = 1_500): Promise<ReadonlyMap<string, FailoverView> | undefined> {
  const answer = await quietly(async () => callControl<OrchestratorStatus>(await controlUrl(home), 'GET', '/status', timeoutMs));
  if (!answer || answer.status !== 200 || !Array.isArray(answer.body.regions)) return undefined;
  return new Map(
    answer.body.regions.map((r) => [
      r.region,
      { region: r.region, phase: r.phase, zeroLoss: r.zeroLoss, message: r.message, primaryHost: r.primary.host, standbyHost: r.standbyNode.host, since: r.since },
    ]),
  );
}

export interface ReplicationSummary {
  /** Incoming subscriptions (one per peer region). */
  readonly links: number;
  /** The worst incoming link: seconds and bytes behind; null when no link reports it. */
  readonly maxLagSeconds: number | null;
  readonly maxLagBytes: number | null;
  readonly errors: number;
  readonly peers: Array<{ readonly peer: string; readonly state: string; readonly lagSeconds: number | null; readonly lagBytes: number | null }>;
}

export function summarizeReplication(links: readonly SubscriptionStatus[]): ReplicationSummary {
  const lags = links.map((l) => l.lagSeconds).filter((v): v is number => v !== null);
  const bytes = links.map((l) => l.lagBytes).filter((v): v is number => v !== null);
  return {
    links: links.length,
    maxLagSeconds: lags.length > 0 ? Math.max(...lags) : null,
    maxLagBytes: bytes.length > 0 ? Math.max(...bytes) : null,
    errors: links.reduce((n, l) => n + l.applyErrorCount + l.syncErrorCount, 0),
    peers: links.map((l) => ({ peer: l.peerRegion, state: l.workerState, lagSeconds: l.lagSeconds, lagBytes: l.lagBytes })),
  };
}

/** A row of latency statistics as the API's latency repository returns it. */
export interface LatencyStatRow {
  readonly fromRegion: string;
  readonly toRegion: string;
  readonly source: string;
  readonly samples: number;
  readonly p50: number;
  readonly p95: number;
}

export interface LatencyToPeer {
  readonly to: string;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

/** The region's own probes to each other region (client samples are not a region-to-region round trip). */
export function latencyFrom(region: string, rows: readonly LatencyStatRow[]): LatencyToPeer[] {
  return rows
    .filter((r) => r.fromRegion === region && r.source === 'probe' && r.toRegion !== region)
    .map((r) => ({ to: r.toRegion, samples: Number(r.samples), p50Ms: Number(r.p50), p95Ms: Number(r.p95) }))
    .sort((a, b) => a.to.localeCompare(b.to));
}

/** GET `url` answers 2xx within the timeout. */
export async function answersOk(url: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
