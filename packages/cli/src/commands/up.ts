import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { RegionConfig, Topology } from '@atlas/core';
import {
  CACHE_STREAM_ROLE,
  PgNode,
  databaseUrl,
  ensureRegionDatabase,
  loadOrCreateSecrets,
  prepareRegionPrimary,
  publicJwk,
  regionDir,
  regionLayout,
  repairGlobalTables,
  setupMesh,
  type RegionDatabase,
} from '@atlas/db';
import { DEFAULT_CONTROL_PORT, startOrchestrator, type Orchestrator } from '@atlas/orchestrator';
import { assertPortFree } from '../ports';
import { API_SERVER, EDGE_SERVER, httpReady, spawnTs, stopChild, waitFor } from '../processes';
import { clearState, isAlive, readState, writeState, type ClusterState } from '../state';
import { renderTable } from '../table';
import { startWan, type Wan } from '../wan';
import { ensureWebApp } from '../web-app';

export interface UpOptions {
  readonly home: string;
  readonly topology: Topology;
  readonly topologyPath?: string;
  /** Started by `atlas up --detach`: outlives the command that launched it. */
  readonly detached?: boolean;
  /** Latency-injecting proxies on every cross-region link (default on; `--no-wan` turns it off). */
  readonly wan?: boolean;
  /** The edge router's port (8080). */
  readonly edgePort?: number;
  /** Build (when stale) and serve the web app at the edge (default on; ATLAS_WEB=off turns it off). */
  readonly web?: boolean;
  readonly log: (line: string) => void;
}

interface RunningRegion {
  readonly database: RegionDatabase;
  /** What this region's API gets beyond the common variables (peers, admin URL). */
  readonly env: NodeJS.ProcessEnv;
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
  const edgePort = options.edgePort ?? 8080;
  await assertPortFree(edgePort, 'edge router');
  for (const region of topology.regions) await assertPortFree(region.apiPort, `${region.id} API`);

  const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
  const databases: RegionDatabase[] = [];
  const running: RunningRegion[] = [];
  let wan: Wan | undefined;
  let edge: ChildProcess | undefined;
  let orchestrator: Orchestrator | undefined;
  let stopping = false;

  // A second signal (Ctrl-C twice, or our parent going away mid-stop) waits for the same stop.
  let stopped: Promise<void> | undefined;
  const stopAll = (reason: string): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      log(`stopping (${reason})…`);
      await Promise.all([...running.map((r) => stopChild(r.child)), ...(edge ? [stopChild(edge)] : [])]);
      // After a failover the primary is the other node: ask the orchestrator where it is.
      const primaries = databases.map((d) => {
        const at = orchestrator?.runners.get(d.region.id)?.location('primary');
        return at ? new PgNode({ dataDir: at.dataDir, port: at.port, superuserPassword: secrets.superuserPassword }) : d.node;
      });
      // The orchestrator stops its probes, forwarders and the standbys it started.
      await orchestrator?.stop().catch((err: Error) => log(`  orchestrator: ${err.message}`));
      // Databases before the WAN: their walsenders end, so the proxies have nothing left in flight.
      for (const node of primaries) await node.stop('fast').catch((err: Error) => log(`  ${node.dataDir}: ${err.message}`));
      await wan?.close();
      await clearState(home);
      log('stopped: every API process and database of this cluster is down');
    })();
    return stopped;
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
    // First, while nothing runs yet: a failed build leaves no database to stop.
    let webRoot: string | null = null;
    if (options.web !== false) {
      const web = await ensureWebApp(log);
      if (web.status === 'failed') log(`web app: NOT served (${web.error}); the API is still available through the edge`);
      else {
        webRoot = web.root;
        log(web.status === 'built' ? `web app: built in ${Math.round(web.ms / 1000)} s` : 'web app: build is up to date');
      }
    }
    const total = topology.regions.length;
    // One after another: first initialisations race on useradd.
    for (const [i, region] of topology.regions.entries()) {
      const started = Date.now();
      // After a failover the primary's data is in the standby slot: move it home first.
      await prepareRegionPrimary(home, region);
      const database = await ensureRegionDatabase({ home, region, secrets, progress: (m) => log(`[${i + 1}/${total}] ${m}`) });
      log(`[${i + 1}/${total}] ${region.id}: database ready (schema v${database.migration.to}) in ${Date.now() - started} ms`);
      databases.push(database);
    }

    // The orchestrator puts a forwarder in front of each primary (the stable address that
    // follows a failover) and builds a synchronous standby per region in the background.
    const meshNodes = () => databases.map((d) => ({ region: d.region.id, adminUrl: databaseUrl('postgres', secrets.superuserPassword, orchestrator!.forwarderPort(d.region.id)) }));
    orchestrator = await startOrchestrator({
      home,
      topology,
      superuserPassword: secrets.superuserPassword,
      controlPort: Number(process.env.ATLAS_ORCHESTRATOR_PORT ?? DEFAULT_CONTROL_PORT),
      // A loaded machine can stall a healthy primary's answer past the default 1 s probe timeout.
      ...(process.env.ATLAS_PROBE_TIMEOUT_MS ? { probeTimeoutMs: positiveMs('ATLAS_PROBE_TIMEOUT_MS', process.env.ATLAS_PROBE_TIMEOUT_MS) } : {}),
      ...(process.env.ATLAS_WEBHOOK_URL ? { webhookUrl: process.env.ATLAS_WEBHOOK_URL } : {}),
      // Peers reach a region through its forwarder, which already follows the new primary.
      restoreReplicationLinks: async () => undefined,
      repairGlobalTables: async (region) => {
        const report = await repairGlobalTables(meshNodes());
        log(`${region}: anti-entropy repair after failover: ${report.rowsRepaired} rows repaired`);
      },
      apiPid: (id) => running.find((r) => r.database.region.id === id)?.child.pid,
      log: (line) => log(`orchestrator: ${line}`),
    });
    log(`failover orchestrator: control on ${orchestrator.controlUrl ?? '(none)'}; synchronous standbys building in the background`);

    const wanOn = options.wan !== false;
    wan = await startWan(topology, { enabled: wanOn, dbPort: (id) => orchestrator!.forwarderPort(id) });
    log(wanOn ? `simulated WAN: ${wan.proxies} latency-injecting links (round trips from the topology; --no-wan turns it off)` : 'simulated WAN: off');
    const mesh = await setupMesh(
      meshNodes(),
      { endpoint: (link) => wan!.dbLink(link) },
    );
    const changed = mesh.steps.filter((s) => s.status !== 'unchanged');
    log(`global replication: ${mesh.steps.filter((s) => s.step === 'subscription').length} subscriptions, ${changed.length} changed${mesh.initialSync ? ', initial sync done' : ''}`);
    for (const failed of mesh.steps.filter((s) => s.status === 'failed')) log(`  FAILED ${failed.region} ${failed.name}: ${failed.detail ?? ''}`);
    if (!mesh.ok) throw new Error('global replication could not be set up (see above)');

    for (const database of databases) {
      const region = database.region;
      const env: NodeJS.ProcessEnv = {
        // Both through the forwarder, so a failover needs no API restart.
        DATABASE_URL: databaseUrl('atlas_app', secrets.appPassword, orchestrator.forwarderPort(region.id)),
        ATLAS_ADMIN_DATABASE_URL: databaseUrl('postgres', secrets.superuserPassword, orchestrator.forwarderPort(region.id)),
        // The cache-invalidation stream's role (replication only): its own generated password.
        ATLAS_CACHE_STREAM_URL: databaseUrl(CACHE_STREAM_ROLE, secrets.cacheStreamPassword, orchestrator.forwarderPort(region.id)),
        ATLAS_PEER_URLS: JSON.stringify(wan.apiPeers(region.id)),
        // Tokens and audit checkpoints: keys generated into ATLAS_HOME on first start; local sign-in on.
        ATLAS_AUTH_PUBLIC_KEY: JSON.stringify(publicJwk(secrets.authSigningKey)),
        ATLAS_AUTH_SIGNING_KEY: JSON.stringify(secrets.authSigningKey),
        ATLAS_AUDIT_SIGNING_KEY: JSON.stringify(secrets.auditSigningKey),
        ATLAS_DEV_AUTH: process.env.ATLAS_DEV_AUTH ?? '1',
        // A DR partner serves a failed-over region's organizations from that region's standby, which lives here.
        ...drRegionsEnv(home, topology, region, secrets),
      };
      const apiUrl = `http://127.0.0.1:${region.apiPort}`;
      const entry: RunningRegion = { database, env, apiUrl, child: startApi(options, database, secrets.blindIndexKey, secrets.documentKeys[region.id]!, env) };
      running.push(entry);
      superviseApi(entry, options, secrets, () => stopping);
    }
    await writeState(home, state(false));
    log('waiting for the regional APIs…');
    for (const r of running) {
      const ok = await waitFor(() => httpReady(`${r.apiUrl}/readyz`), 90_000);
      if (!ok) throw new Error(`${r.database.region.id} API did not become ready in 90 s; see ${join(regionDir(home, r.database.region.id), 'api.log')}`);
    }
    edge = spawnTs(EDGE_SERVER, { ...process.env, ...(options.topologyPath ? { ATLAS_TOPOLOGY: options.topologyPath } : {}), ATLAS_EDGE_PORT: String(edgePort), ATLAS_EDGE_WEB_ROOT: webRoot ?? '' }, join(home, 'edge.log'));
    if (!(await waitFor(() => httpReady(`http://127.0.0.1:${edgePort}/edge/healthz`), 60_000))) {
      throw new Error(`the edge router did not start on ${edgePort}; see ${join(home, 'edge.log')}`);
    }
    edge.once('exit', (code, signal) => {
      if (!stopping) log(`edge router exited (${signal ?? `code ${code}`}); see ${join(home, 'edge.log')}`);
    });
    await writeState(home, state(true));
    log('');
    log(
      renderTable(
        ['region', 'jurisdiction', 'api', 'database', 'ready'],
        running.map((r) => [r.database.region.id, r.database.region.jurisdiction, r.apiUrl, `127.0.0.1:${r.database.region.dbPort}`, 'yes']),
      ),
    );
    log('');
    log(`edge router: http://127.0.0.1:${edgePort} (routes each request to the right region; /edge/status)`);
    if (webRoot) log(`web app: http://127.0.0.1:${edgePort}/`);
    log(`Atlas is up (data in ${home}; logs in <region>/api.log and edge.log). Ctrl-C stops it.`);
  } catch (err) {
    await stopAll('start-up failed');
    throw err;
  }
}

function startApi(options: UpOptions, database: RegionDatabase, blindIndexKey: string, documentKey: string, extra: NodeJS.ProcessEnv): ChildProcess {
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
      ...extra,
    },
    join(regionDir(options.home, region.id), 'api.log'),
  );
}

function positiveMs(name: string, value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 100) throw new Error(`${name}: must be a whole number of milliseconds ≥ 100, got ${value}`);
  return ms;
}

/** ATLAS_DR_REGIONS for a region that is some regions' disaster-recovery partner: their standby slot's address and document key. */
function drRegionsEnv(home: string, topology: Topology, region: RegionConfig, secrets: { appPassword: string; documentKeys: Readonly<Record<string, string>> }): NodeJS.ProcessEnv {
  const partnered = topology.regions.filter((r) => r.drPartner === region.id);
  if (partnered.length === 0) return {};
  const entries = partnered.map((r) => [r.id, { databaseUrl: databaseUrl('atlas_app', secrets.appPassword, regionLayout(home, r).standby.port), documentKey: secrets.documentKeys[r.id] }]);
  return { ATLAS_DR_REGIONS: JSON.stringify(Object.fromEntries(entries)) };
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
        entry.child = startApi(options, entry.database, secrets.blindIndexKey, secrets.documentKeys[entry.database.region.id]!, entry.env);
        watch(entry.child);
      }, delay);
    });
  };
  watch(entry.child);
}

export { isAlive };
