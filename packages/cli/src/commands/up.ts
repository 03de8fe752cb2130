import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Topology } from '@atlas/core';
import { ensureRegionDatabase, loadOrCreateSecrets, regionDir, type RegionDatabase } from '@atlas/db';
import { assertPortFree } from '../ports';
import { API_SERVER, httpReady, spawnTs, stopChild, waitFor } from '../processes';
import { clearState, isAlive, readState, writeState, type ClusterState } from '../state';
import { renderTable } from '../table';

export interface UpOptions {
  readonly home: string;
  readonly topology: Topology;
  readonly topologyPath?: string;
  /** Started by `atlas up --detach`: outlives the command that launched it. */
  readonly detached?: boolean;
  readonly log: (line: string) => void;
}

interface RunningRegion {
  readonly database: RegionDatabase;
  child: ChildProcess;
  readonly apiUrl: string;
}

/**
 * `atlas up` in the foreground: databases one after another (first initialisations race on
 * useradd), then one API process per region, then a table of regions. SIGINT or SIGTERM
 * stops everything it started; nothing is left behind.
 */
export async function up(options: UpOptions): Promise<void> {
  const { home, topology, log } = options;
  const previous = await readState(home);
  if (previous && isAlive(previous.supervisorPid)) {
    throw new Error(`Atlas is already running from ${home} (pid ${previous.supervisorPid}); \`atlas down\` stops it`);
  }
  for (const region of topology.regions) await assertPortFree(region.apiPort, `${region.id} API`);

  const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
  const running: RunningRegion[] = [];
  let stopping = false;

  const stopAll = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${reason})…`);
    await Promise.all(running.map((r) => stopChild(r.child)));
    for (const r of running) await r.database.node.stop('fast').catch((err: Error) => log(`  ${r.database.region.id}: ${err.message}`));
    await clearState(home);
    log('stopped: every API process and database of this cluster is down');
  };
  const onSignal = (signal: NodeJS.Signals) => {
    void stopAll(signal).then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (!options.detached) {
    // `npm start` runs us under sh, which does not pass SIGTERM on: when our parent goes
    // away, we go too, rather than leave databases running with nobody to stop them.
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) onSignal('SIGHUP');
    }, 500).unref();
  }

  const state = (ready: boolean): ClusterState => ({
    supervisorPid: process.pid,
    startedAt: new Date().toISOString(),
    ready,
    regions: running.map((r) => ({
      id: r.database.region.id,
      apiUrl: r.apiUrl,
      apiPid: r.child.pid ?? null,
      dbPort: r.database.region.dbPort,
      dbPid: null,
    })),
  });

  try {
    const total = topology.regions.length;
    for (const [i, region] of topology.regions.entries()) {
      const started = Date.now();
      const database = await ensureRegionDatabase({ home, region, secrets, progress: (m) => log(`[${i + 1}/${total}] ${m}`) });
      log(`[${i + 1}/${total}] ${region.id}: database ready (schema v${database.migration.to}) in ${Date.now() - started} ms`);
      const apiUrl = `http://127.0.0.1:${region.apiPort}`;
      const entry: RunningRegion = { database, apiUrl, child: startApi(options, database, secrets.blindIndexKey, secrets.documentKeys[region.id]!) };
      running.push(entry);
      superviseApi(entry, options, secrets, () => stopping);
    }
    await writeState(home, state(false));
    log('waiting for the regional APIs…');
    for (const r of running) {
      const ok = await waitFor(() => httpReady(`${r.apiUrl}/readyz`), 90_000);
      if (!ok) throw new Error(`${r.database.region.id} API did not become ready in 90 s; see ${join(regionDir(home, r.database.region.id), 'api.log')}`);
    }
    await writeState(home, state(true));
    log('');
    log(
      renderTable(
        ['region', 'jurisdiction', 'api', 'database', 'ready'],
        running.map((r) => [r.database.region.id, r.database.region.jurisdiction, r.apiUrl, `127.0.0.1:${r.database.region.dbPort}`, 'yes']),
      ),
    );
    log('');
    log(`Atlas is up (data in ${home}; logs in <region>/api.log). Ctrl-C stops it.`);
  } catch (err) {
    await stopAll('start-up failed');
    throw err;
  }
}

function startApi(options: UpOptions, database: RegionDatabase, blindIndexKey: string, documentKey: string): ChildProcess {
  const region = database.region;
  return spawnTs(
    API_SERVER,
    {
      ...process.env,
      ATLAS_REGION: region.id,
      ATLAS_HOME: options.home,
      ...(options.topologyPath ? { ATLAS_TOPOLOGY: options.topologyPath } : {}),
      DATABASE_URL: database.appUrl,
      ATLAS_DOCUMENT_KEY: documentKey,
      ATLAS_BLIND_INDEX_KEY: blindIndexKey,
    },
    join(regionDir(options.home, region.id), 'api.log'),
  );
}

/** An API process that dies on its own is restarted, with a growing pause, while we run. */
function superviseApi(
  entry: RunningRegion,
  options: UpOptions,
  secrets: { blindIndexKey: string; documentKeys: Readonly<Record<string, string>> },
  stopping: () => boolean,
): void {
  let restarts = 0;
  const watch = (child: ChildProcess) => {
    child.once('exit', (code, signal) => {
      if (stopping()) return;
      restarts += 1;
      const delay = Math.min(10_000, 500 * 2 ** Math.min(restarts, 5));
      options.log(`${entry.database.region.id}: API exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => {
        if (stopping()) return;
        entry.child = startApi(options, entry.database, secrets.blindIndexKey, secrets.documentKeys[entry.database.region.id]!);
        watch(entry.child);
      }, delay);
    });
  };
  watch(entry.child);
}

export { isAlive };
