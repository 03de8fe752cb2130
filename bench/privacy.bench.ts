import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTopology, type RegionConfig } from '@atlas/core';
import { createDb, ensureRegionDatabase, loadOrCreateSecrets, publicJwk } from '@atlas/db';
import { buildApp, configFromEnv } from '../packages/api/src/index';
import { TokenVerifier, issueToken } from '../packages/api/src/auth/tokens';
import { freePort } from '../test/support/free-port';
import { floodVersusOtherOrganization } from './rate-limit-flood';
import { BENCHMARKS_FILE, machineDescription, ms, percentile } from './report';

const SUBJECTS = Number(process.env.BENCH_PRIVACY_SUBJECTS ?? 5);
const DOSSIERS_PER_SUBJECT = Number(process.env.BENCH_PRIVACY_DOSSIERS ?? 50);
const REQUESTS = Number(process.env.BENCH_AUTH_REQUESTS ?? 2000);
/** `BENCH_FLOOD_ONLY=1`: only the flood figure; the section keeps its other figures from the last full run. */
const FLOOD_ONLY = process.env.BENCH_FLOOD_ONLY === '1';

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/**
 * Data-subject request and authentication costs on one real region (embedded PostgreSQL 18,
 * the API in-process through inject, so no network noise): time to build a subject's export
 * (JSON + stored), time to erase a subject, and the share of a request spent verifying its
 * token, measured in the same run.
 */
export async function runPrivacyBench(log: (line: string) => void = console.log): Promise<{ markdown: string }> {
  const home = await mkdtemp(join(tmpdir(), 'atlas-bench-privacy-'));
  await chmod(home, 0o755);
  const topology = loadTopology();
  const base = topology.regions[0]!;
  const region: RegionConfig = { ...base, apiPort: await freePort(), dbPort: await freePort() };
  const secrets = await loadOrCreateSecrets(home, [region.id]);
  log(`privacy bench: starting a database for ${region.id}`);
  const database = await ensureRegionDatabase({ home, region, secrets });
  const topologyFile = join(home, 'topology.json');
  await writeFile(topologyFile, JSON.stringify({ ...topology, regions: topology.regions.map((r) => (r.id === region.id ? region : r)) }));
  const floodSetup = { home, region, topologyFile, databaseUrl: database.appUrl, cacheStreamUrl: database.cacheStreamUrl, secrets, pgDataDir: database.node.dataDir };
  if (FLOOD_ONLY) {
    try {
      log('privacy bench: flood vs another organization only (BENCH_FLOOD_ONLY=1)');
      const flood = await floodVersusOtherOrganization(floodSetup, log);
      const previous = await readFile(BENCHMARKS_FILE, 'utf8').catch(() => '');
      const start = previous.indexOf('## Privacy and auth (issue 5)\n');
      const section = start === -1 ? '' : previous.slice(start, previous.indexOf('\n## ', start + 10) === -1 ? undefined : previous.indexOf('\n## ', start + 10));
      const kept = section.indexOf('\n\n', 0) === -1 ? '' : section.slice(section.indexOf('\n\n') + 2).split('\nFlood vs another organization')[0]!.trim();
      return { markdown: kept ? `${kept}\n\n${flood.markdown}` : flood.markdown };
    } finally {
      await database.node.stop('fast');
      await rm(home, { recursive: true, force: true });
    }
  }
  // The same validated path as a real API process: configuration from the environment.
  const config = configFromEnv({
    ATLAS_REGION: region.id,
    DATABASE_URL: database.appUrl,
    // The global-row cache, kept coherent by the API's own decoding stream (as `atlas up` runs it).
    ATLAS_CACHE_STREAM_URL: database.cacheStreamUrl,
    ATLAS_HOME: home,
    ATLAS_DOCUMENT_KEY: secrets.documentKeys[region.id]!,
    ATLAS_BLIND_INDEX_KEY: secrets.blindIndexKey,
    ATLAS_AUTH_PUBLIC_KEY: JSON.stringify(publicJwk(secrets.authSigningKey)),
    ATLAS_AUDIT_SIGNING_KEY: JSON.stringify(secrets.auditSigningKey),
    ATLAS_AUDIT_CHECKPOINT_MS: '0',
    ATLAS_PURGE_INTERVAL_MS: '0',
    ATLAS_PROBE_INTERVAL_MS: '0',
    ATLAS_RATE_LIMIT_IP: '1000000/1',
    ATLAS_RATE_LIMIT_ORG: '1000000/1',
    LOG_LEVEL: 'silent',
  });
  const db = createDb(config.databaseUrl, { max: 10 });
  const app = await buildApp(config, db, { logger: false });
  await app.ready();
  let closed = false;
  try {
    const orgId = (await app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Bench Privacy', homeRegion: region.id } })).json().id as string;
    const sign = async (role: 'admin' | 'dpo') =>
      (await issueToken(secrets.authSigningKey, { userId: `usr_${role.padEnd(26, '0')}`, orgId, roles: [role], homeRegion: region.id }, 3600)).token;
    const admin = { authorization: `Bearer ${await sign('admin')}` };
    const dpo = { authorization: `Bearer ${await sign('dpo')}` };

    log(`privacy bench: ${SUBJECTS} subjects × ${DOSSIERS_PER_SUBJECT} dossiers, each with an activity`);
    const emails: string[] = [];
    for (let s = 0; s < SUBJECTS; s++) {
      const email = `subject${s}@bench.example`;
      emails.push(email);
      await app.inject({ method: 'POST', url: `/api/orgs/${orgId}/users`, headers: admin, payload: { email, fullName: `Subject ${s}`, role: 'viewer' } });
      for (let d = 0; d < DOSSIERS_PER_SUBJECT; d++) {
        const dossier = (await app.inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, headers: admin, payload: { title: `case ${s}/${d}`, clientName: `Subject ${s}`, clientEmail: email } })).json();
        await app.inject({ method: 'POST', url: `/api/orgs/${orgId}/activities`, headers: admin, payload: { kind: 'call', subject: `call ${d}`, dossierId: dossier.id } });
      }
    }

    const timed = async (type: string, email: string) => {
      const t = performance.now();
      const res = await app.inject({ method: 'POST', url: `/api/orgs/${orgId}/privacy/requests`, headers: dpo, payload: { type, subject: { email } } });
      if (res.statusCode !== 201) throw new Error(`${type} → ${res.statusCode}: ${res.body}`);
      return performance.now() - t;
    };
    const exportMs: number[] = [];
    for (const email of emails) exportMs.push(await timed('access', email));
    const erasureMs: number[] = [];
    for (const email of emails) erasureMs.push(await timed('erasure', email));

    // Auth overhead: the same authenticated read, and the token verification on its own.
    const url = `/api/orgs/${orgId}/annonces?limit=10`;
    for (let i = 0; i < 200; i++) await app.inject({ method: 'GET', url, headers: admin });
    const requestUs: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      await app.inject({ method: 'GET', url, headers: admin });
      requestUs.push((performance.now() - t) * 1000);
    }
    // A cached read of an organization (issue 3's goal: p95 ≤ 1 ms in-process): the global-row
    // cache warm, the token remembered, the token's user state cached (this user has no row:
    // its absence is cached like a row), so what remains is routing, auth and two cache hits.
    const orgUrl = `/api/orgs/${orgId}`;
    for (let i = 0; i < 200; i++) await app.inject({ method: 'GET', url: orgUrl, headers: admin });
    const orgUs: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      const res = await app.inject({ method: 'GET', url: orgUrl, headers: admin });
      orgUs.push((performance.now() - t) * 1000);
      if (res.statusCode !== 200) throw new Error(`GET ${orgUrl} → ${res.statusCode}`);
    }
    // The same read split: the cache hit on its own, and the framework's floor (an inject of
    // /healthz: routing, hooks, serialisation, no auth, no data).
    const hitUs: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      const org = await app.atlas.cache.read('organization', orgId, async () => {
        throw new Error('the organization was not cached');
      });
      hitUs.push((performance.now() - t) * 1000);
      if (org === undefined) throw new Error('cache hit returned nothing');
    }
    const floorUs: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      await app.inject({ method: 'GET', url: '/healthz' });
      floorUs.push((performance.now() - t) * 1000);
    }
    // First sight of each token (the verifier remembers a token it has verified until it expires).
    const verifier = await TokenVerifier.create(config.security.authPublicKey, topology);
    const fresh: string[] = [];
    for (let i = 0; i < REQUESTS; i++) fresh.push((await issueToken(secrets.authSigningKey, { userId: `usr_${'v'.repeat(26)}`, orgId, roles: ['viewer'], homeRegion: region.id }, 3600)).token);
    const verifyUs: number[] = [];
    for (const token of fresh) {
      const t = performance.now();
      await verifier.verify(token);
      verifyUs.push((performance.now() - t) * 1000);
    }
    const repeatUs: number[] = [];
    for (const token of fresh) {
      const t = performance.now();
      await verifier.verify(token);
      repeatUs.push((performance.now() - t) * 1000);
    }
    const req = median(requestUs);
    const ver = median(verifyUs);
    const inProcess = [
      machineDescription(),
      '',
      'One region, embedded PostgreSQL 18, the API in-process (inject).',
      '',
      '| figure | median | p95 | runs |',
      '|---|---|---|---|',
      `| DSR access export (${DOSSIERS_PER_SUBJECT} dossiers + ${DOSSIERS_PER_SUBJECT} activities + profile + audit rows) | ${ms(median(exportMs))} ms | ${ms(percentile([...exportMs].sort((a, b) => a - b), 95))} ms | ${SUBJECTS} |`,
      `| DSR erasure (same subject size, ledger + tombstones) | ${ms(median(erasureMs))} ms | ${ms(percentile([...erasureMs].sort((a, b) => a - b), 95))} ms | ${SUBJECTS} |`,
      `| authenticated read (GET annonces, token verified, tenant transaction) | ${(req / 1000).toFixed(3)} ms | ${(percentile([...requestUs].sort((a, b) => a - b), 95) / 1000).toFixed(3)} ms | ${REQUESTS} |`,
      `| cached organization read (GET /api/orgs/:id, in-process cache warm; issue 3 goal p95 ≤ 1 ms) | ${(median(orgUs) / 1000).toFixed(3)} ms | ${(percentile([...orgUs].sort((a, b) => a - b), 95) / 1000).toFixed(3)} ms | ${REQUESTS} |`,
      `| … of which the global-row cache hit alone (GlobalRowCache.read, in-process LRU) | ${median(hitUs).toFixed(1)} µs | ${percentile([...hitUs].sort((a, b) => a - b), 95).toFixed(1)} µs | ${REQUESTS} |`,
      `| framework floor for comparison (GET /healthz through the same app: no auth, no data) | ${(median(floorUs) / 1000).toFixed(3)} ms | ${(percentile([...floorUs].sort((a, b) => a - b), 95) / 1000).toFixed(3)} ms | ${REQUESTS} |`,
      `| token verification, first sight of a token (EdDSA, claims) | ${ver.toFixed(1)} µs | ${percentile([...verifyUs].sort((a, b) => a - b), 95).toFixed(1)} µs | ${REQUESTS} |`,
      `| token verification, token seen before (remembered until it expires) | ${median(repeatUs).toFixed(1)} µs | ${percentile([...repeatUs].sort((a, b) => a - b), 95).toFixed(1)} µs | ${REQUESTS} |`,
      '',
      `Auth overhead per request, counting a full EdDSA verification: ${((ver / req) * 100).toFixed(1)} % of the request; ratio with/without it ${(req / Math.max(1, req - ver)).toFixed(3)}.`,
    ].join('\n');
    await app.close();
    await db.destroy();
    closed = true;
    log('privacy bench: flood vs another organization');
    const flood = await floodVersusOtherOrganization(floodSetup, log);
    const markdown = `${inProcess}\n\n${flood.markdown}`;
    log(markdown);
    return { markdown };
  } finally {
    if (!closed) {
      await app.close();
      await db.destroy();
    }
    await database.node.stop('fast');
    await rm(home, { recursive: true, force: true });
  }
}
