import type { Topology } from '@atlas/core';
import { httpReady } from '../processes';
import { renderTable } from '../table';

export interface RegionStatus {
  readonly id: string;
  readonly jurisdiction: string;
  readonly apiUrl: string;
  /** Where the region's database listens; credentials are in ATLAS_HOME/secrets.json. */
  readonly databaseUrl: string;
  readonly ready: boolean;
}

export async function collectStatus(topology: Topology): Promise<RegionStatus[]> {
  return Promise.all(
    topology.regions.map(async (r) => {
      const apiUrl = `http://127.0.0.1:${r.apiPort}`;
      return {
        id: r.id,
        jurisdiction: r.jurisdiction,
        apiUrl,
        databaseUrl: `postgres://127.0.0.1:${r.dbPort}/atlas`,
        ready: await httpReady(`${apiUrl}/readyz`).catch(() => false),
      };
    }),
  );
}

/** `atlas status`: exit code 0 when every region is ready, 1 otherwise. */
export async function status(options: { topology: Topology; json: boolean; log: (line: string) => void }): Promise<number> {
  const regions = await collectStatus(options.topology);
  if (options.json) {
    options.log(JSON.stringify({ regions }, null, 2));
  } else {
    options.log(renderTable(['region', 'jurisdiction', 'api', 'database', 'ready'], regions.map((r) => [r.id, r.jurisdiction, r.apiUrl, r.databaseUrl, r.ready ? 'yes' : 'NO'])));
  }
  return regions.every((r) => r.ready) ? 0 : 1;
}
