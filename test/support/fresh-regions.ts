import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTopology, type RegionConfig, type Topology } from '@atlas/core';
import { ensureRegionDatabase, loadOrCreateSecrets, PgNode, regionDir, type RegionDatabase } from '@atlas/db';
import { freePort } from './free-port';

export interface FreshRegions {
  readonly home: string;
  readonly topology: Topology;
  readonly databases: readonly RegionDatabase[];
  /** The databases as replication nodes: region id + superuser URL. */
  readonly nodes: ReadonlyArray<{ readonly region: string; readonly adminUrl: string }>;
  stop(): Promise<void>;
}

/**
 * n brand-new PostgreSQL 18 clusters (the first n regions of the default topology, on free
 * ports, in a private home under /tmp), for suites that pause, break or re-create
 * replication and must not disturb the shared clusters of the global setup. Initialised one
 * after another: parallel first initialisations race on useradd.
 */
export async function startFreshRegions(n: number, options: { prefix?: string } = {}): Promise<FreshRegions> {
  const home = await mkdtemp(join(tmpdir(), options.prefix ?? 'atlas-fresh-'));
  await chmod(home, 0o755);
  const base = loadTopology();
  if (n > base.regions.length) throw new Error(`the default topology has ${base.regions.length} regions, not ${n}`);
  const regions: RegionConfig[] = [];
  for (const r of base.regions.slice(0, n)) regions.push({ ...r, apiPort: await freePort(), dbPort: await freePort() });
  const topology: Topology = { ...base, regions };
  const secrets = await loadOrCreateSecrets(home, regions.map((r) => r.id));
  const databases: RegionDatabase[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(databases.map((d) => d.node.stop('fast')));
    await rm(home, { recursive: true, force: true });
  };
  try {
    for (const region of regions) databases.push(await ensureRegionDatabase({ home, region, secrets }));
  } catch (err) {
    // Also the node whose set-up failed after it started (a failing migration, say).
    const nodes = regions.map(
      (r) => new PgNode({ dataDir: join(regionDir(home, r.id), 'pg'), port: r.dbPort, superuserPassword: secrets.superuserPassword }),
    );
    await Promise.allSettled(nodes.map((node) => node.stop('immediate')));
    await rm(home, { recursive: true, force: true });
    throw err;
  }
  return { home, topology, databases, nodes: databases.map((d) => ({ region: d.region.id, adminUrl: d.adminUrl })), stop };
}
