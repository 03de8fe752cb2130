import { sql } from 'kysely';
import type { RegionConfig } from '@atlas/core';
import { replicationStatus } from '@atlas/db';
import {
  answersOk,
  fetchFailoverViews,
  latencyFrom,
  quietly,
  summarizeReplication,
  type FailoverView,
  type LatencyToPeer,
  type ReplicationSummary,
} from '@atlas/orchestrator';
import type { AppContext } from '../../context';
import { latencyStats } from '../latency/latency.repository';

/** Every source of the view is asked with a bound: a region that hangs shows as unreachable. */
export const STATUS_TIMEOUT_MS = 2_500;
/** Latency statistics cover the last quarter of an hour of probes. */
const LATENCY_WINDOW_MINUTES = 15;

export interface FailoverState {
  readonly phase: string;
  readonly zeroLoss: string;
  /** True while no synchronous standby acknowledges commits: an acknowledged write could be lost. */
  readonly zeroLossSuspended: boolean;
  readonly message: string;
  /** Where the region's primary database lives (its DR partner after a partner failover); null when only failover_event is known. */
  readonly primaryHost: string | null;
  readonly source: 'orchestrator' | 'failover_event';
}

export interface RegionStatusEntry {
  readonly region: string;
  readonly jurisdiction: string;
  readonly drPartner: string | null;
  /** Whether this region's own status answered (for peers: over HTTP within the bound). */
  readonly reachable: boolean;
  /** up: the API answers and its database is ready; degraded: the API answers, its database does not; down: no answer. */
  readonly health: 'up' | 'degraded' | 'down';
  readonly replication: ReplicationSummary | null;
  /** The region's own probes to every other region, from its latency_sample rows. */
  readonly latency: LatencyToPeer[] | null;
  readonly failover: FailoverState | null;
  /** Regions whose organizations this region serves as their DR partner right now. */
  readonly hosting: string[];
  /** Why a part is unknown. */
  readonly notes: string[];
}

export interface ClusterStatus {
  readonly servedBy: string;
  readonly generatedAt: string;
  readonly orchestrator: { readonly reachable: boolean };
  readonly regions: RegionStatusEntry[];
}

const within = <T>(ms: number, work: Promise<T>): Promise<T> =>
  Promise.race([work, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);

function fromOrchestrator(view: FailoverView): FailoverState {
  return {
    phase: view.phase,
    zeroLoss: view.zeroLoss,
    zeroLossSuspended: view.zeroLoss !== 'kept',
    message: view.zeroLoss === 'kept' ? view.message : `${view.message}; zero-loss promise suspended until the standby is back`,
    primaryHost: view.primaryHost,
    source: 'orchestrator',
  };
}

/** The newest failover_event row of `region` in this database: what is known without the orchestrator. */
async function lastFailoverEvent(ctx: AppContext, region: string): Promise<FailoverState | null> {
  const { rows } = await sql<{ failoverId: string; step: string; status: string; startedAt: Date }>`
    SELECT failover_id AS "failoverId", step, status, started_at AS "startedAt"
      FROM failover_event WHERE region = ${region} ORDER BY id DESC LIMIT 1`.execute(ctx.db.db);
  const row = rows[0];
  if (!row) return null;
  const suspended = row.step === 'suspend-sync' && row.status === 'done';
  return {
    phase: 'unknown',
    zeroLoss: suspended ? 'suspended' : 'unknown',
    zeroLossSuspended: suspended,
    message: `orchestrator not reachable; last recorded step ${row.step} ${row.status} at ${new Date(row.startedAt).toISOString()} (${row.failoverId})`,
    primaryHost: null,
    source: 'failover_event',
  };
}

/** Regions whose primary the orchestrator reports in this region (their DR partner). */
export function hostedHere(ctx: AppContext, views: ReadonlyMap<string, FailoverView> | undefined): string[] {
  const here = ctx.config.region.id;
  return ctx.config.topology.regions.filter((r) => r.drPartner === here && views?.get(r.id)?.primaryHost === here).map((r) => r.id);
}

/** This region's own entry: its database, its replication links, its probes and its failover state. */
export async function localStatus(ctx: AppContext, views: ReadonlyMap<string, FailoverView> | undefined): Promise<RegionStatusEntry> {
  const region = ctx.config.region;
  const notes: string[] = [];
  const note = (what: string) => (err: unknown) => {
    notes.push(`${what}: ${(err as Error).message}`);
    return undefined;
  };
  const adminUrl = ctx.config.adminDatabaseUrl;
  const [ready, links, stats] = await Promise.all([
    within(STATUS_TIMEOUT_MS, sql`SELECT 1`.execute(ctx.db.db)).then(() => true, note('database')),
    adminUrl ? within(STATUS_TIMEOUT_MS, replicationStatus(adminUrl)).catch(note('replication')) : Promise.resolve(undefined),
    within(STATUS_TIMEOUT_MS, latencyStats(ctx.db.db, LATENCY_WINDOW_MINUTES)).catch(note('latency')),
  ]);
  if (!adminUrl) notes.push('replication: not configured in this region (no ATLAS_ADMIN_DATABASE_URL)');
  const view = views?.get(region.id);
  let failover: FailoverState | null = view ? fromOrchestrator(view) : null;
  if (!view && ready) failover = (await within(STATUS_TIMEOUT_MS, lastFailoverEvent(ctx, region.id)).catch(note('failover_event'))) ?? null;
  if (!failover) notes.push('failover: orchestrator not reachable and no failover_event recorded');
  return {
    region: region.id,
    jurisdiction: region.jurisdiction,
    drPartner: region.drPartner ?? null,
    reachable: true,
    health: ready ? 'up' : 'degraded',
    replication: links ? summarizeReplication(links) : null,
    latency: stats ? latencyFrom(region.id, stats) : null,
    failover,
    hosting: hostedHere(ctx, views),
    notes,
  };
}

const peerUrl = (ctx: AppContext, region: RegionConfig): string => ctx.config.peerUrls[region.id] ?? `http://127.0.0.1:${region.apiPort}`;

/** A peer's own entry over HTTP; when it does not answer, what the orchestrator still knows of it. */
async function peerStatus(ctx: AppContext, region: RegionConfig, views: ReadonlyMap<string, FailoverView> | undefined): Promise<RegionStatusEntry> {
  const answer = await quietly(async () => {
    const res = await fetch(`${peerUrl(ctx, region)}/api/status?scope=local`, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as ClusterStatus;
    const entry = body.regions.find((r) => r.region === region.id);
    if (!entry) throw new Error('no entry for itself');
    return entry;
  });
  if (answer) return answer;
  const view = views?.get(region.id);
  return {
    region: region.id,
    jurisdiction: region.jurisdiction,
    drPartner: region.drPartner ?? null,
    reachable: false,
    // The process may be up with its status route hung (a frozen API): say down either way.
    health: (await answersOk(`${peerUrl(ctx, region)}/healthz`, 1_000)) ? 'degraded' : 'down',
    replication: null,
    latency: null,
    failover: view ? fromOrchestrator(view) : null,
    hosting: [],
    notes: [`${region.id} did not answer its status within ${STATUS_TIMEOUT_MS} ms`],
  };
}

/**
 * The one status view: this region's entry, each peer's own entry (asked with a bound) and
 * the orchestrator's failover state. `local` is what a peer asks for: no fan-out.
 */
export async function collectClusterStatus(ctx: AppContext, scope: 'cluster' | 'local'): Promise<ClusterStatus> {
  const views = await fetchFailoverViews(ctx.config.home, STATUS_TIMEOUT_MS);
  const here = ctx.config.region;
  const peers = scope === 'local' ? [] : ctx.config.topology.regions.filter((r) => r.id !== here.id);
  const entries = await Promise.all([localStatus(ctx, views), ...peers.map((r) => peerStatus(ctx, r, views))]);
  const order = new Map(ctx.config.topology.regions.map((r, i) => [r.id, i]));
  return {
    servedBy: here.id,
    generatedAt: new Date().toISOString(),
    orchestrator: { reachable: views !== undefined },
    regions: entries.sort((a, b) => order.get(a.region)! - order.get(b.region)!),
  };
}
