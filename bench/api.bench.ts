import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { loadTopology, type RegionConfig } from '@atlas/core';
import { ensureRegionDatabase, loadOrCreateSecrets } from '@atlas/db';
import { API_SERVER, httpReady, spawnTs, stopChild, waitFor } from '../packages/cli/src/processes';
import { freePort } from '../test/support/free-port';
import { machineDescription, ms, percentile, cannon as runCannon, benchAuthEnv, benchSignIn, type LoadFigures } from './report';

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);

type Figures = LoadFigures;

const cannon = (name: string, opts: autocannon.Options): Promise<Figures> => runCannon(name, { connections: CONNECTIONS, duration: DURATION_S, ...opts });

/** The floor: the same query with pg in CONNECTIONS concurrent loops over a pool like the API's. */
async function directFloor(url: string, text: string, values: () => unknown[], durationS: number): Promise<Figures> {
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  const latencies: number[] = [];
  const deadline = performance.now() + durationS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await pool.query(text, values());
        latencies.push(performance.now() - t);
      }
    }),
  );
  await pool.end();
  latencies.sort((a, b) => a - b);
  return { name: 'direct pg (floor)', rps: latencies.length / durationS, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), errors: 0 };
}

export async function runApiBench(log: (line: string) => void = console.log): Promise<{ markdown: string }> {
  const home = await mkdtemp(join(tmpdir(), 'atlas-bench-api-'));
  await chmod(home, 0o755);
  const base = loadTopology().regions[0]!;
  const region: RegionConfig = { ...base, apiPort: await freePort(), dbPort: await freePort() };
  const secrets = await loadOrCreateSecrets(home, [region.id]);
  log('api bench: starting a database and an API process for eu-west-1');
  const database = await ensureRegionDatabase({ home, region, secrets });
  const topologyFile = join(home, 'topology.json');
  const topology = loadTopology();
  const { writeFile } = await import('node:fs/promises');
  await writeFile(topologyFile, JSON.stringify({ ...topology, regions: topology.regions.map((r) => (r.id === region.id ? region : r)) }));
  const api = spawnTs(
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
      ...benchAuthEnv(secrets),
      ATLAS_PROBE_INTERVAL_MS: '0',
      LOG_LEVEL: 'warn',
    },
    join(home, 'api.log'),
  );
  const url = `http://127.0.0.1:${region.apiPort}`;
  try {
    if (!(await waitFor(() => httpReady(`${url}/readyz`), 60_000))) throw new Error('API did not start');
    const org = await (await fetch(`${url}/api/orgs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bench', homeRegion: region.id }) })).json() as { id: string };
    const auth = await benchSignIn(url, org.id);
    const ids: string[] = [];
    log('api bench: seeding 1,000 dossiers');
    for (let i = 0; i < 1000; i++) {
      const res = await fetch(`${url}/api/orgs/${org.id}/dossiers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ title: `Dossier ${i}`, reference: `B-${i}`, clientName: `Client ${i}` }),
      });
      ids.push(((await res.json()) as { id: string }).id);
    }
    const oneId = ids[500]!;
    // A listing holds no personal data: reading it writes no audit event (the same path otherwise).
    const listing = await fetch(`${url}/api/orgs/${org.id}/annonces`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ title: 'Bench listing' }) });
    const listingId = ((await listing.json()) as { id: string }).id;
    log('api bench: warm-up');
    await autocannon({ url: `${url}/api/orgs/${org.id}/dossiers/${oneId}`, headers: auth, connections: 10, duration: 2 });

    const rows: Figures[] = [];
    log(`api bench: GET dossier by id, ${CONNECTIONS} connections, ${DURATION_S} s`);
    rows.push(await cannon('GET /dossiers/:id', { url: `${url}/api/orgs/${org.id}/dossiers/${oneId}`, headers: auth }));
    log('api bench: GET annonce by id (no audit event)');
    const unaudited = await cannon('GET /annonces/:id (not personal: no audit)', { url: `${url}/api/orgs/${org.id}/annonces/${listingId}`, headers: auth });
    rows.push(unaudited);
    log('api bench: the same query with pg directly (floor)');
    const floorGet = await directFloor(database.appUrl, 'SELECT * FROM dossier WHERE org_id = $1 AND id = $2', () => [org.id, oneId], DURATION_S);
    rows.push({ ...floorGet, name: 'direct pg: SELECT by id (floor)' });
    log('api bench: list 50 dossiers');
    rows.push(await cannon('GET /dossiers?limit=50', { url: `${url}/api/orgs/${org.id}/dossiers?limit=50`, headers: auth }));
    const floorList = await directFloor(database.appUrl, 'SELECT * FROM dossier WHERE org_id = $1 ORDER BY id DESC LIMIT 51', () => [org.id], DURATION_S);
    rows.push({ ...floorList, name: 'direct pg: list 50 (floor)' });
    log('api bench: POST dossier');
    rows.push(
      await cannon('POST /dossiers', {
        url: `${url}/api/orgs/${org.id}/dossiers`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ title: 'Bench dossier', clientName: 'Bench Client' }),
      }),
    );

    const get = rows[0]!;
    const ratio = get.p95 / floorGet.p95;
    const table = [
      '| case | req/s | p50 ms | p95 ms | p99 ms | errors |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p99)} | ${r.errors} |`),
    ].join('\n');
    const verdict = [
      `- GET by id p95: ${ms(get.p95)} ms (goal ≤ 10 ms) — ${get.p95 <= 10 ? 'met' : 'NOT met'}`,
      `- GET by id p95 / direct-query p95: ${ratio.toFixed(2)}× (goal ≤ 3×) — ${ratio <= 3 ? 'met' : 'NOT met'}`,
      `- list 50 p95 / direct list p95: ${(rows.find((r) => r.name.startsWith('GET /dossiers?'))!.p95 / floorList.p95).toFixed(2)}×`,
      `- audited read (dossier) p95 / unaudited read (annonce) p95: ${(get.p95 / unaudited.p95).toFixed(2)}× (read audits are group-committed: see docs/GDPR_DATA_RESIDENCY.md §4)`,
    ].join('\n');
    const markdown = `One region (eu-west-1): its API as a separate process, autocannon with ${CONNECTIONS} connections for ${DURATION_S} s per case, 1,000 dossiers. The floor runs the same SQL with \`pg\` in ${CONNECTIONS} concurrent loops over a 20-connection pool (the API's pool size). Client and server share the machine's 2 cores.\n\n${machineDescription()}\n\n${table}\n\n${verdict}\n`;
    log(table);
    log(verdict);
    return { markdown };
  } finally {
    await stopChild(api);
    await database.node.stop('fast');
    await rm(home, { recursive: true, force: true });
  }
}
