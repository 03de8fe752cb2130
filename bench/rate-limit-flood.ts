import { join } from 'node:path';
import autocannon from 'autocannon';
import type { RegionConfig } from '@atlas/core';
import type { LocalSecrets } from '@atlas/db';
import { API_SERVER, httpReady, spawnTs, stopChild, waitFor } from '../packages/cli/src/processes';
import { benchAuthEnv, benchSignIn, cannon, ms } from './report';

const ORG_LIMIT = process.env.BENCH_FLOOD_ORG_LIMIT ?? '1200/60';
const FLOOD_RATE = Number(process.env.BENCH_FLOOD_RATE ?? 1000);
const VICTIM_RATE = Number(process.env.BENCH_VICTIM_RATE ?? 40);
const PHASE_S = Number(process.env.BENCH_FLOOD_PHASE_S ?? 10);

export interface FloodFigure {
  readonly markdown: string;
}

/**
 * "A flood from one organization gets 429 while another organization's p99 stays within 20 % of
 * its unloaded value", measured in one run on a real API process over HTTP: organization B
 * reads at a steady VICTIM_RATE alone (unloaded), then again while organization A sends
 * FLOOD_RATE requests a second (its budget, ORG_LIMIT, spent before the flood starts). The
 * flood runs in a worker thread so that its client does not share B's event loop.
 */
export async function floodVersusOtherOrganization(
  home: string,
  region: RegionConfig,
  topologyFile: string,
  databaseUrl: string,
  secrets: LocalSecrets,
  log: (line: string) => void,
): Promise<FloodFigure> {
  const api = spawnTs(
    API_SERVER,
    {
      ...process.env,
      ATLAS_REGION: region.id,
      ATLAS_HOME: home,
      ATLAS_TOPOLOGY: topologyFile,
      DATABASE_URL: databaseUrl,
      ATLAS_DOCUMENT_KEY: secrets.documentKeys[region.id]!,
      ATLAS_BLIND_INDEX_KEY: secrets.blindIndexKey,
      ...benchAuthEnv(secrets),
      // Every request comes from 127.0.0.1: the address limit is out of the way, the
      // organization limit is the one under test.
      ATLAS_RATE_LIMIT_ORG: ORG_LIMIT,
      ATLAS_PROBE_INTERVAL_MS: '0',
      ATLAS_AUDIT_CHECKPOINT_MS: '0',
      ATLAS_PURGE_INTERVAL_MS: '0',
      LOG_LEVEL: 'warn',
    },
    join(home, 'api-flood.log'),
  );
  const url = `http://127.0.0.1:${region.apiPort}`;
  try {
    if (!(await waitFor(() => httpReady(`${url}/readyz`), 60_000))) throw new Error(`the API did not start; see ${join(home, 'api-flood.log')}`);
    const org = async (name: string) =>
      ((await (await fetch(`${url}/api/orgs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, homeRegion: region.id }) })).json()) as { id: string }).id;
    const flooder = await org('Flooder');
    const victim = await org('Bystander');
    const flooderAuth = await benchSignIn(url, flooder, 'flooder@bench.example');
    const victimAuth = await benchSignIn(url, victim, 'bystander@bench.example');
    const victimRun = (name: string) =>
      cannon(name, { url: `${url}/api/orgs/${victim}/annonces?limit=10`, headers: victimAuth, connections: 4, overallRate: VICTIM_RATE, duration: PHASE_S });

    log(`flood figure: warm-up, then organization B alone at ${VICTIM_RATE} req/s for ${PHASE_S} s`);
    await autocannon({ url: `${url}/api/orgs/${victim}/annonces?limit=10`, headers: victimAuth, connections: 2, amount: 100 });
    const alone = await victimRun('B alone');

    log(`flood figure: organization A floods at ${FLOOD_RATE} req/s (limit ${ORG_LIMIT}); B measured once A's budget is spent`);
    const [capacity, perSeconds] = ORG_LIMIT.split('/').map(Number) as [number, number];
    // Spend A's budget first (bounded), so that B is measured against a flood of 429s.
    const floodUrl = `${url}/api/orgs/${flooder}/annonces?limit=10`;
    let drained = false;
    for (let sent = 0; sent < capacity * 2 && !drained; sent += 20) {
      const codes = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(floodUrl, { headers: flooderAuth })).status));
      drained = codes.includes(429);
    }
    if (!drained) throw new Error(`organization A was never limited after ${capacity * 2} requests`);
    const drainS = 1;
    const flood = autocannon({
      url: floodUrl,
      headers: flooderAuth,
      connections: 20,
      overallRate: FLOOD_RATE,
      duration: drainS + PHASE_S + 1,
      workers: 1,
    });
    await new Promise((resolve) => setTimeout(resolve, drainS * 1000));
    const loaded = await victimRun('B during the flood');
    const floodResult = await flood;
    const floodOk = Number((floodResult as unknown as Record<string, number>)['2xx'] ?? 0);
    const floodTotal = floodResult.requests.total;
    const floodLimited = Number(floodResult.statusCodeStats?.['429']?.count ?? 0);

    const ratio = loaded.p99 / alone.p99;
    const table = [
      '| organization B (4 connections, steady rate) | req/s | p50 ms | p99 ms | errors |',
      '|---|---:|---:|---:|---:|',
      `| alone | ${alone.rps.toFixed(0)} | ${ms(alone.p50)} | ${ms(alone.p99)} | ${alone.errors} |`,
      `| while A floods | ${loaded.rps.toFixed(0)} | ${ms(loaded.p50)} | ${ms(loaded.p99)} | ${loaded.errors} |`,
    ].join('\n');
    const markdown = [
      `Flood vs another organization (real API process over HTTP, organization limit ${ORG_LIMIT}, i.e. ${(capacity / perSeconds).toFixed(0)} req/s sustained; A sends ${FLOOD_RATE} req/s from a worker thread, B reads at ${VICTIM_RATE} req/s):`,
      '',
      table,
      '',
      `- A's flood: ${floodTotal} requests, ${floodLimited} answered 429 (${((floodLimited / Math.max(1, floodTotal)) * 100).toFixed(1)} %), ${floodOk} served`,
      `- B's p99 during the flood / alone: ${ratio.toFixed(2)}× (goal ≤ 1.20×) — ${ratio <= 1.2 ? 'met' : 'NOT met'}`,
    ].join('\n');
    log(markdown);
    return { markdown };
  } finally {
    await stopChild(api);
  }
}
