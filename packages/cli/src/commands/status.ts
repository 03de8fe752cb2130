import type { Topology } from '@atlas/core';
import { databaseUrl, loadOrCreateSecrets, replicationStatus } from '@atlas/db';
import { callControl, controlUrl } from '@atlas/orchestrator';
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
  readonly replication: { readonly links: number; readonly maxLagSeconds: number | null; readonly maxLagBytes: number | null; readonly errors: number } | null;
  /** The orchestrator's view; null when it does not answer. */
  readonly failover: { readonly phase: string; readonly zeroLoss: string; readonly message: string } | null;
}

interface EdgeView {
  regions: Array<{ region: string; state: string; ewmaMs: number | null }>;
}
interface OrchestratorView {
  regions: Array<{ region: string; phase: string; zeroLoss: string; message: string }>;
}

const quietly = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
  try {
    return await work();
  } catch {
    return undefined;
  }
};

/**
 * One view of the cluster: each region's readiness, the edge's health and latency, the
 * replication lag into it, and its failover state. Each source that does not answer shows as
 * unknown rather than failing the whole view.
 */
export async function collectStatus(topology: Topology, home: string, edgePort = 8080): Promise<RegionStatus[]> {
  const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
  const [edge, orchestrator] = await Promise.all([
    quietly(async () => (await (await fetch(`http://127.0.0.1:${edgePort}/edge/status`, { signal: AbortSignal.timeout(1_000) })).json()) as EdgeView),
    quietly(async () => (await callControl<OrchestratorView>(await controlUrl(home), 'GET', '/status', 2_000)).body),
  ]);
  return Promise.all(
    topology.regions.map(async (r) => {
      const apiUrl = `http://127.0.0.1:${r.apiPort}`;
      const links = await quietly(() => replicationStatus(databaseUrl('postgres', secrets.superuserPassword, r.dbPort)));
      const lags = (links ?? []).map((l) => l.lagSeconds).filter((v): v is number => v !== null);
      const bytes = (links ?? []).map((l) => l.lagBytes).filter((v): v is number => v !== null);
      const e = edge?.regions.find((x) => x.region === r.id);
      const f = orchestrator?.regions.find((x) => x.region === r.id);
      return {
        id: r.id,
        jurisdiction: r.jurisdiction,
        apiUrl,
        databaseUrl: `postgres://127.0.0.1:${r.dbPort}/atlas`,
        ready: await httpReady(`${apiUrl}/readyz`).catch(() => false),
        edge: e ? { state: e.state, latencyMs: e.ewmaMs } : null,
        replication: links
          ? {
              links: links.length,
              maxLagSeconds: lags.length > 0 ? Math.max(...lags) : null,
              maxLagBytes: bytes.length > 0 ? Math.max(...bytes) : null,
              errors: links.reduce((n, l) => n + l.applyErrorCount, 0),
            }
          : null,
        failover: f ? { phase: f.phase, zeroLoss: f.zeroLoss, message: f.message } : null,
      };
    }),
  );
}

/** `atlas status`: exit code 0 when every region is ready, 1 otherwise. */
export async function status(options: { topology: Topology; home: string; json: boolean; log: (line: string) => void }): Promise<number> {
  const regions = await collectStatus(options.topology, options.home);
  if (options.json) {
    options.log(JSON.stringify({ regions }, null, 2));
  } else {
    options.log(
      renderTable(
        ['region', 'jurisdiction', 'api', 'ready', 'edge', 'edge ms', 'repl lag s', 'failover', 'zero-loss'],
        regions.map((r) => [
          r.id,
          r.jurisdiction,
          r.apiUrl,
          r.ready ? 'yes' : 'NO',
          r.edge?.state ?? '?',
          r.edge?.latencyMs?.toFixed(1) ?? '?',
          r.replication?.maxLagSeconds?.toFixed(3) ?? '?',
          r.failover?.phase ?? '?',
          r.failover?.zeroLoss ?? '?',
        ]),
      ),
    );
  }
  return regions.every((r) => r.ready) ? 0 : 1;
}
