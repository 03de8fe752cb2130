import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadTopology, type TopologyInput } from '@atlas/core';
import { ensureRegionDatabase, loadOrCreateSecrets, type LocalSecrets, type RegionDatabase } from '@atlas/db';
import { freePort } from './free-port';
import { claimHome, reapStaleClusters } from './stale-clusters';

export interface ClusterInfo {
  readonly home: string;
  readonly topology: TopologyInput;
  readonly secrets: LocalSecrets;
  readonly databases: Record<string, { adminUrl: string; appUrl: string; cacheStreamUrl: string }>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

/**
 * Three real PostgreSQL 18 clusters, one per region of the default topology, on free ports in
 * a temporary ATLAS_HOME (under /tmp, so the postgres OS user can reach it). Initialised one
 * after another: parallel first initialisations race on useradd.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const reaped = await reapStaleClusters('atlas-test-');
  if (reaped > 0) console.log(`stopped the PostgreSQL servers of ${reaped} abandoned test run(s)`);
  const home = await mkdtemp(join(tmpdir(), 'atlas-test-'));
  await chmod(home, 0o755);
  await claimHome(home);
  const base = loadTopology();
  const topology: TopologyInput = {
    ...structuredClone(base),
    regions: await Promise.all(base.regions.map(async (r) => ({ ...r, apiPort: await freePort(), dbPort: await freePort() }))),
  } as TopologyInput;
  const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
  const started: RegionDatabase[] = [];
  const databases: ClusterInfo['databases'] = {};
  try {
    for (const region of topology.regions) {
      const db = await ensureRegionDatabase({ home, region, secrets });
      started.push(db);
      databases[region.id] = { adminUrl: db.adminUrl, appUrl: db.appUrl, cacheStreamUrl: db.cacheStreamUrl };
    }
  } catch (err) {
    await Promise.allSettled(started.map((d) => d.node.stop('immediate')));
    throw err;
  }
  project.provide('cluster', { home, topology, secrets, databases });
  return async () => {
    await Promise.allSettled(started.map((d) => d.node.stop('fast')));
    await rm(home, { recursive: true, force: true });
  };
}
