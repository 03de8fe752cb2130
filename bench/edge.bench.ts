import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { loadTopology, type RegionConfig } from '@atlas/core';
import { ensureRegionDatabase, loadOrCreateSecrets } from '@atlas/db';
import { API_SERVER, httpReady, spawnTs, stopChild, waitFor } from '../packages/cli/src/processes';
import { freePort } from '../test/support/free-port';
import { machineDescription, ms, percentile, cannon as runCannon, benchAuthEnv, benchSignIn, type LoadFigures } from './report';

const EDGE_SERVER = fileURLToPath(new URL('../packages/edge/src/server.ts', import.meta.url));
const CONNECTIONS = 20;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const DETECTION_RUNS = 3;

type Figures = LoadFigures;

const cannon = (name: string, opts: autocannon.Options): Promise<Figures> => runCannon(name, { connections: CONNECTIONS, duration: DURATION_S, ...opts });

interface EdgeStatus {
  regions: Array<{ region: string; state: 'up' | 'down' }>;
}

async function regionState(edgeUrl: string, region: string): Promise<'up' | 'down' | undefined> {
  const res = await fetch(`${edgeUrl}/edge/status`, { signal: AbortSignal.timeout(1_000) });
  return ((await res.json()) as EdgeStatus).regions.find((r) => r.region === region)?.state;
}

/** Polls every 10 ms until the edge reports `state`; the elapsed ms, or NaN after `limitMs`. */
async function timeUntil(edgeUrl: string, region: string, state: 'up' | 'down', limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if ((await regionState(edgeUrl, region).catch(() => undefined)) === state) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 10));
  }
  return Number.NaN;
}

const authEnv = benchAuthEnv;
const signIn = (apiUrl: string, orgId: string) => benchSignIn(apiUrl, orgId);

/**
 * The edge router against its region: overhead of the extra hop (p95 through the edge ÷ p95
 * direct, autocannon) and how long the edge takes to see a killed region (SIGKILL of the API
 * process → /edge/status says down), with the local health settings (1 s, down after 3).
 */
export async function runEdgeBench(log: (line: string) => void = console.log): Promise<{ markdown: string }> {
  const home = await mkdtemp(join(tmpdir(), 'atlas-bench-edge-'));
  await chmod(home, 0o755);
  const base = loadTopology();
  const region: RegionConfig = { ...base.regions[0]!, apiPort: await freePort(), dbPort: await freePort() };
  // A one-region topology: the edge must not spend its checks on regions this bench lacks.
  const topology = {
    regions: [region],
    rttMs: {},
    countryRegions: Object.fromEntries(Object.entries(base.countryRegions).filter(([, r]) => r === region.id)),
    health: base.health,
  };
  const topologyFile = join(home, 'topology.json');
  await writeFile(topologyFile, JSON.stringify(topology));
  const secrets = await loadOrCreateSecrets(home, [region.id]);
  log(`edge bench: a database, an API process and an edge process for ${region.id}`);
  const database = await ensureRegionDatabase({ home, region, secrets });
  const edgePort = await freePort();
  const apiUrl = `http://127.0.0.1:${region.apiPort}`;
  const edgeUrl = `http://127.0.0.1:${edgePort}`;
  const startApi = (): ChildProcess =>
    spawnTs(
      API_SERVER,
      {
        ...process.env,
        ATLAS_REGION: region.id,
        ATLAS_HOME: home,
        ATLAS_TOPOLOGY: topologyFile,
        DATABASE_URL: database.appUrl,
        // The global-row cache, kept coherent by the API's own decoding stream (as `atlas up` runs it).
        ATLAS_CACHE_STREAM_URL: database.cacheStreamUrl,
        ATLAS_DOCUMENT_KEY: secrets.documentKeys[region.id]!,
        ATLAS_BLIND_INDEX_KEY: secrets.blindIndexKey,
        ...authEnv(secrets),
        LOG_LEVEL: 'warn',
      },
      join(home, 'api.log'),
    );
  let api = startApi();
  const edge = spawnTs(
    EDGE_SERVER,
    { ...process.env, ATLAS_TOPOLOGY: topologyFile, ATLAS_EDGE_PORT: String(edgePort), LOG_LEVEL: 'warn' },
    join(home, 'edge.log'),
  );
  try {
    if (!(await waitFor(() => httpReady(`${apiUrl}/readyz`), 60_000)))
      throw new Error(`the API did not start; see ${join(home, 'api.log')}`);
    if (!(await waitFor(() => httpReady(`${edgeUrl}/edge/healthz`), 30_000)))
      throw new Error(`the edge did not start; see ${join(home, 'edge.log')}`);
    const created = await fetch(`${apiUrl}/api/orgs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Edge bench', homeRegion: region.id }),
    });
    const org = ((await created.json()) as { id: string }).id;
    const auth = await signIn(apiUrl, org);
    const dossier = await fetch(`${apiUrl}/api/orgs/${org}/dossiers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ title: 'Bench dossier', clientName: 'Bench Client' }),
    });
    if (dossier.status !== 201) throw new Error(`cannot create the bench dossier: ${dossier.status} ${await dossier.text()}`);
    const dossierId = ((await dossier.json()) as { id: string }).id;

    const cases = [
      { label: 'GET /api/orgs/:org/dossiers/:id (regional, database read)', path: `/api/orgs/${org}/dossiers/${dossierId}` },
      { label: 'GET /api/regions/current (no database: the hop alone)', path: '/api/regions/current' },
    ];
    log('edge bench: warm-up');
    for (const c of cases)
      for (const url of [apiUrl, edgeUrl])
        await autocannon({ url: `${url}${c.path}`, headers: auth, connections: CONNECTIONS, duration: 2 });
    const rows: Array<{ label: string; direct: Figures; viaEdge: Figures }> = [];
    for (const c of cases) {
      log(`edge bench: ${c.label}, ${CONNECTIONS} connections, ${DURATION_S} s direct then through the edge`);
      const direct = await cannon('direct', { url: `${apiUrl}${c.path}`, headers: auth });
      const viaEdge = await cannon('edge', { url: `${edgeUrl}${c.path}`, headers: { ...auth, 'cf-ipcountry': 'IE' } });
      rows.push({ label: c.label, direct, viaEdge });
    }

    log(`edge bench: detection of a killed region, ${DETECTION_RUNS} runs`);
    const detections: number[] = [];
    const returns: number[] = [];
    for (let run = 0; run < DETECTION_RUNS; run++) {
      if (Number.isNaN(await timeUntil(edgeUrl, region.id, 'up', 15_000)))
        throw new Error(`the edge does not see ${region.id} up before run ${run + 1}`);
      // A random phase against the check schedule, as a real failure has.
      await new Promise((r) => setTimeout(r, Math.random() * base.health.intervalMs));
      api.kill('SIGKILL');
      detections.push(await timeUntil(edgeUrl, region.id, 'down', 15_000));
      // The process may be gone already: only wait for an exit that has not happened.
      if (api.exitCode === null && api.signalCode === null) await new Promise((r) => api.once('exit', r));
      api = startApi();
      if (!(await waitFor(() => httpReady(`${apiUrl}/readyz`), 60_000))) throw new Error('the API did not restart');
      returns.push(await timeUntil(edgeUrl, region.id, 'up', 15_000));
    }

    const sorted = [...detections].sort((a, b) => a - b);
    const table = [
      '| case | direct req/s | direct p95 ms | edge req/s | edge p95 ms | edge p50 ms | p95 ratio | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.label} | ${r.direct.rps.toFixed(0)} | ${ms(r.direct.p95)} | ${r.viaEdge.rps.toFixed(0)} | ${ms(r.viaEdge.p95)} | ${ms(r.viaEdge.p50)} | ${(r.viaEdge.p95 / r.direct.p95).toFixed(2)}× | ${r.direct.errors + r.viaEdge.errors} |`,
      ),
    ].join('\n');
    const ratio = rows[0]!.viaEdge.p95 / rows[0]!.direct.p95;
    const worst = sorted[sorted.length - 1]!;
    const verdict = [
      `- edge p95 / direct p95 on the regional read: ${ratio.toFixed(2)}× (goal ≤ 1.3×) — ${ratio <= 1.3 ? 'met' : 'NOT met'}`,
      `- detection of a killed region (SIGKILL → edge says down), ${DETECTION_RUNS} runs: p50 ${ms(percentile(sorted, 50))} ms, max ${ms(worst)} ms (goal ≤ 3 s) — ${worst <= 3_000 ? 'met' : 'NOT met'}`,
      `- return after restart (API ready → edge says up): ${returns.map((t) => ms(t)).join(', ')} ms`,
    ].join('\n');
    const markdown = [
      `One region (${region.id}): its API and the edge router as separate processes; autocannon with ${CONNECTIONS} connections for ${DURATION_S} s per case, first straight to the API, then through the edge (CF-IPCountry: IE). Health checks at the local settings: every ${base.health.intervalMs} ms, down after ${base.health.downAfter} failures, up after ${base.health.upAfter} successes, so detection lies between ${(base.health.downAfter - 1) * base.health.intervalMs} and ${base.health.downAfter * base.health.intervalMs} ms plus a probe. Client, edge, API and database share the machine's cores: the edge's CPU competes with the API's, which inflates the ratio on the cheapest route.`,
      machineDescription(),
      table,
      verdict,
    ].join('\n\n');
    log(table);
    log(verdict);
    return { markdown: `${markdown}\n` };
  } finally {
    await Promise.all([stopChild(edge), stopChild(api)]);
    await database.node.stop('fast');
    await rm(home, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runEdgeBench().catch((err: Error) => {
    process.stderr.write(`edge bench: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
