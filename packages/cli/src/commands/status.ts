import type { Topology } from '@atlas/core';
import { FORWARDER_PORT_OFFSET, databaseUrl, loadOrCreateSecrets, replicationStatus } from '@atlas/db';
import { fetchFailoverViews, quietly, summarizeReplication, type LatencyToPeer, type ReplicationSummary } from '@atlas/orchestrator';
import { httpReady } from '../processes';
import { renderTable } from '../table';

export interface RegionStatus {
  readonly id: string;
  readonly jurisdiction: string;
  readonly apiUrl: string;
  /** Where the region's database listens; credentials are in ATLAS_HOME/secrets.json. */
  readonly databaseUrl: string;
  readonly ready: boolean;
  /** The edge router's view: up/down and the EWMA of its probes; null when no edge answers. */
  readonly edge: { readonly state: string; readonly latencyMs: number | null } | null;
  /** The worst incoming replication link: seconds and bytes behind; null when unknown. */
  readonly replication: ReplicationSummary | null;
  /** The region's own probes to the others (its GET /api/status?scope=local); null when its API does not answer. */
  readonly latency: readonly LatencyToPeer[] | null;
  /** Regions whose organizations this region serves as their DR partner right now. */
  readonly hosting: readonly string[];
  /** The orchestrator's view; null when it does not answer. */
  readonly failover: { readonly phase: string; readonly zeroLoss: string; readonly message: string; readonly primaryHost: string } | null;
}

interface EdgeView {
  regions: Array<{ region: string; state: string; ewmaMs: number | null }>;
}

/**
 * One view of the cluster: each region's readiness, the edge's health and latency, the
 * replication lag into it, and its failover state. Each source that does not answer shows as
 * unknown rather than failing the whole view.
 */
export async function collectStatus(topology: Topology, home: string, edgePort = 8080): Promise<RegionStatus[]> {
  const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
  const [edge, orchestrator] = await Promise.all([
    quietly(async () => (await (await fetch(`http://127.0.0.1:${edgePort}/edge/status`, { signal: AbortSignal.timeout(1_000) })).json()) as EdgeView),
    fetchFailoverViews(home, 2_000),
  ]);
  return Promise.all(
    topology.regions.map(async (r) => {
      const apiUrl = `http://127.0.0.1:${r.apiPort}`;
      // Through the forwarder, which follows the primary after a failover; else the home node.
      const links =
        (await quietly(() => replicationStatus(databaseUrl('postgres', secrets.superuserPassword, r.dbPort + FORWARDER_PORT_OFFSET)))) ??
        (await quietly(() => replicationStatus(databaseUrl('postgres', secrets.superuserPassword, r.dbPort))));
      const e = edge?.regions.find((x) => x.region === r.id);
      const f = orchestrator?.get(r.id);
      const own = await quietly(async () => {
        const res = await fetch(`${apiUrl}/api/status?scope=local`, { signal: AbortSignal.timeout(3_000) });
        const body = (await res.json()) as { regions: Array<{ region: string; latency: LatencyToPeer[] | null; hosting: string[] }> };
        return body.regions.find((x) => x.region === r.id);
      });
      return {
        id: r.id,
        jurisdiction: r.jurisdiction,
        apiUrl,
        databaseUrl: `postgres://127.0.0.1:${r.dbPort}/atlas`,
        ready: await httpReady(`${apiUrl}/readyz`).catch(() => false),
        edge: e ? { state: e.state, latencyMs: e.ewmaMs } : null,
        replication: links ? summarizeReplication(links) : null,
        latency: own?.latency ?? null,
        hosting: own?.hosting ?? [],
        failover: f ? { phase: f.phase, zeroLoss: f.zeroLoss, message: f.message, primaryHost: f.primaryHost } : null,
      };
    }),
  );
}

/** `atlas status`: exit code 0 when every region is ready, 1 otherwise. */
export async function status(options: { topology: Topology; home: string; json: boolean; edgePort?: number; log: (line: string) => void }): Promise<number> {
  const regions = await collectStatus(options.topology, options.home, options.edgePort);
  if (options.json) {
    options.log(JSON.stringify({ regions }, null, 2));
  } else {
    options.log(
      renderTable(
        ['region', 'jurisdiction', 'api', 'ready', 'edge', 'edge ms', 'repl lag s', 'p50 ms to peers', 'failover', 'zero-loss', 'hosting'],
        regions.map((r) => [
          r.id,
          r.jurisdiction,
          r.apiUrl,
          r.ready ? 'yes' : 'NO',
          r.edge?.state ?? '?',
          r.edge?.latencyMs?.toFixed(1) ?? '?',
          r.replication?.maxLagSeconds?.toFixed(3) ?? '?',
          r.latency ? r.latency.map((l) => `${l.to} ${l.p50Ms.toFixed(0)}`).join(', ') || '-' : '?',
          r.failover?.phase ?? '?',
          r.failover?.zeroLoss ?? '?',
          r.hosting.join(', ') || '-',
        ]),
      ),
    );
  }
  return regions.every((r) => r.ready) ? 0 : 1;
}
