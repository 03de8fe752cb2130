import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTopology } from '@atlas/core';
import { atlasHome, loadOrCreateSecrets } from '@atlas/db';
import { DEFAULT_CONTROL_PORT } from './control-client';
import { startOrchestrator, type OrchestratorOptions } from './daemon';

/**
 * Stand-alone entry: `node --import tsx packages/orchestrator/src/main.ts`, after the
 * regions' primaries are up. Environment, validated here once:
 *   ATLAS_HOME, ATLAS_TOPOLOGY          as for `atlas up`
 *   ATLAS_ORCHESTRATOR_PORT             control port (default 8099)
 *   ATLAS_WEBHOOK_URL                   notifications (logged only when unset)
 *   ATLAS_PROBE_INTERVAL_MS             default 250
 * `hooks` lets a wrapper (atlas up) pass the replication callbacks.
 */
export async function main(hooks: Pick<OrchestratorOptions, 'restoreReplicationLinks' | 'repairGlobalTables'> = {}): Promise<void> {
  const home = atlasHome();
  const topology = loadTopology();
  const port = Number(process.env.ATLAS_ORCHESTRATOR_PORT ?? DEFAULT_CONTROL_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`ATLAS_ORCHESTRATOR_PORT: not a port: ${process.env.ATLAS_ORCHESTRATOR_PORT}`);
  const interval = Number(process.env.ATLAS_PROBE_INTERVAL_MS ?? 250);
  if (!Number.isFinite(interval) || interval < 50) throw new Error(`ATLAS_PROBE_INTERVAL_MS: must be ≥ 50, got ${process.env.ATLAS_PROBE_INTERVAL_MS}`);
  const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
  const orchestrator = await startOrchestrator({
    home,
    topology,
    superuserPassword: secrets.superuserPassword,
    controlPort: port,
    probeIntervalMs: interval,
    ...(process.env.ATLAS_WEBHOOK_URL ? { webhookUrl: process.env.ATLAS_WEBHOOK_URL } : {}),
    ...hooks,
    apiPid: (region) => apiPids.get(region),
  });
  // API PIDs from `atlas up`'s state file, for the kill-region drill.
  const apiPids = new Map<string, number>();
  const refresh = async () => {
    const state = JSON.parse(await readFile(join(home, 'cluster.json'), 'utf8').catch(() => '{}')) as { regions?: Array<{ id: string; apiPid: number | null }> };
    for (const r of state.regions ?? []) if (r.apiPid) apiPids.set(r.id, r.apiPid);
  };
  await refresh();
  const timer = setInterval(() => void refresh(), 2_000);
  const shutdown = (signal: string) => {
    clearInterval(timer);
    process.stdout.write(`orchestrator: ${signal}, stopping\n`);
    void orchestrator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    process.stderr.write(`orchestrator: ${err.message}\n`);
    process.exit(1);
  });
}
