import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, type Topology } from '@atlas/core';
import { FORWARDER_PORT_OFFSET, databaseUrl, loadOrCreateSecrets } from '@atlas/db';
import { atlas, exited, regionDbPort } from '../../../test/support/atlas-cli';
import { freePort } from '../../../test/support/free-port';

/**
 * The drills on a running cluster (issue 4): `atlas up` as a real process tree — databases,
 * standbys, orchestrator, APIs, edge — with a topology where eu-west-1 names eu-central-1 as
 * its disaster-recovery partner and us-east-1 has none. Every wait is bounded.
 */
async function partnerTopology(): Promise<Topology> {
  const base = loadTopology();
  const eu = base.regions.find((r) => r.id === 'eu-west-1')!;
  const us = base.regions.find((r) => r.id === 'us-east-1')!;
  const rttMs = {
    'eu-west-1': { 'eu-central-1': 25, 'us-east-1': 68 },
    'eu-central-1': { 'eu-west-1': 25, 'us-east-1': 90 },
    'us-east-1': { 'eu-west-1': 68, 'eu-central-1': 90 },
  };
  const countryRegions = Object.fromEntries(Object.entries(base.countryRegions).filter(([, r]) => r === 'eu-west-1' || r === 'us-east-1'));
  return parseTopology({
    regions: [
      { ...eu, drPartner: 'eu-central-1', apiPort: await freePort(), dbPort: await regionDbPort() },
      { id: 'eu-central-1', code: 'euc1', displayName: 'Europe (Frankfurt)', jurisdiction: 'EU', apiPort: await freePort(), dbPort: await regionDbPort() },
      { ...us, apiPort: await freePort(), dbPort: await regionDbPort() },
    ],
    rttMs,
    countryRegions: { ...countryRegions, DE: 'eu-central-1' },
    health: { intervalMs: 500, downAfter: 3, upAfter: 2 },
  });
}

/** Polls `check` until it returns a truthy value; fails naming `what` after `timeoutMs`, or at once on a failed expectation. */
async function waitFor<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      // A broken expectation inside the check fails at once; network errors are waited out.
      if ((err as Error).name === 'AssertionError') throw err;
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

interface StatusEntry {
  region: string;
  reachable: boolean;
  health: string;
  replication: { links: number; maxLagSeconds: number | null } | null;
  latency: Array<{ to: string; samples: number }> | null;
  failover: { phase: string; zeroLoss: string; zeroLossSuspended: boolean; primaryHost: string | null; source: string } | null;
  hosting: string[];
}
interface StatusBody {
  servedBy: string;
  orchestrator: { reachable: boolean };
  regions: StatusEntry[];
}

describe('atlas chaos on a running cluster with a DR partner', { timeout: 600_000 }, () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let topology: Topology;
  let edge: string;
  let up: (ChildProcess & { output: () => string }) | undefined;
  const api = (id: string) => `http://127.0.0.1:${topology.regions.find((r) => r.id === id)!.apiPort}`;
  const json = { 'content-type': 'application/json' };

  const status = async (base: string): Promise<StatusBody> => {
    const res = await fetch(`${base}/api/status`, { signal: AbortSignal.timeout(15_000) });
    // Through the edge, a 503 while it has not yet seen any region up is waited out by the callers.
    if (res.status !== 200) throw new Error(`GET ${base}/api/status: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as StatusBody;
  };
  const entry = (s: StatusBody, id: string) => s.regions.find((r) => r.region === id)!;
  /** The orchestrator's log lines about a region, for a failing assertion's message. */
  const orchestratorLines = (id: string) => (up?.output() ?? '').split('\n').filter((l) => l.includes(`orchestrator: ${id}`)).join('\n');

  async function newOrg(homeRegion: string): Promise<{ id: string; token: string }> {
    const res = await fetch(`${edge}/api/orgs`, { method: 'POST', headers: json, body: JSON.stringify({ name: `Chaos ${homeRegion} ${Date.now()}`, homeRegion }) });
    expect(res.status, await res.clone().text()).toBe(201);
    const { id } = (await res.json()) as { id: string };
    // The edge may create the organization in another region than its home (a global row):
    // its home knows it once replication has brought it there, which after a revive can take
    // a few seconds while the links reconnect. Until then the home answers 404.
    const login = await waitFor(`organization ${id} (created by ${res.headers.get('atlas-region')}) known in ${homeRegion}`, async () => {
      const attempt = await fetch(`${api(homeRegion)}/api/auth/dev-token`, { method: 'POST', headers: json, body: JSON.stringify({ orgId: id, email: `admin@${homeRegion}.example` }) });
      if (attempt.status !== 404) return attempt;
      await attempt.body?.cancel();
      return false;
    }, 60_000);
    expect(login.status, await login.clone().text()).toBe(200);
    return { id, token: ((await login.json()) as { token: string }).token };
  }
  const dossiers = (org: { id: string; token: string }, init: RequestInit = {}) =>
    fetch(`${edge}/api/orgs/${org.id}/dossiers`, { ...init, headers: { ...json, authorization: `Bearer ${org.token}` }, signal: AbortSignal.timeout(15_000) });

  async function chaos(action: string, region: string): Promise<void> {
    const run = atlas(['chaos', action, region], env);
    expect(await exited(run, 180_000), run.output()).toBe(0);
  }

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'atlas-chaos-'));
    await chmod(home, 0o755);
    topology = await partnerTopology();
    const topologyPath = join(home, 'topology.json');
    await writeFile(topologyPath, JSON.stringify(topology));
    const edgePort = await freePort();
    edge = `http://127.0.0.1:${edgePort}`;
    env = {
      ATLAS_HOME: home,
      ATLAS_TOPOLOGY: topologyPath,
      ATLAS_EDGE_PORT: String(edgePort),
      ATLAS_ORCHESTRATOR_PORT: String(await freePort()),
      // Two shared cores run six PostgreSQL servers here: a healthy primary may take over 1 s to answer a probe.
      ATLAS_PROBE_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'warn',
    };
    up = atlas(['up', '--no-wan'], env);
    await waitFor('Atlas is up', async () => up!.output().includes('Atlas is up') || (up!.exitCode !== null && Promise.reject(new Error(up!.output()))), 300_000);
    // Every region with its synchronous standby streaming: the zero-loss promise kept.
    await waitFor('a streaming synchronous standby in every region', async () => {
      const s = await status(edge);
      return s.regions.every((r) => r.health === 'up' && r.failover?.zeroLoss === 'kept');
    }, 240_000);
  }, 600_000);

  afterAll(async () => {
    if (up && up.exitCode === null) {
      up.kill('SIGTERM');
      await exited(up, 60_000); // SIGKILL after a minute
    }
    await exited(atlas(['down'], env));
    await rm(home, { recursive: true, force: true });
  });

  it('GET /api/status: every region up, its replication links, its measured latency, the orchestrator’s failover state', async () => {
    const s = await waitFor('latency probes from every region', async () => {
      const v = await status(api('eu-central-1'));
      return v.regions.every((r) => (r.latency ?? []).length === 2) && v;
    }, 60_000);
    expect(s.servedBy).toBe('eu-central-1');
    expect(s.orchestrator.reachable).toBe(true);
    expect(s.regions.map((r) => r.region)).toEqual(['eu-west-1', 'eu-central-1', 'us-east-1']);
    for (const r of s.regions) {
      expect(r.reachable).toBe(true);
      expect(r.health).toBe('up');
      expect(r.replication?.links, r.region).toBe(2);
      expect(r.latency!.map((l) => l.to).sort()).toEqual(topology.regions.map((t) => t.id).filter((id) => id !== r.region).sort());
      expect(r.failover).toMatchObject({ phase: 'healthy', zeroLoss: 'kept', zeroLossSuspended: false, primaryHost: r.region, source: 'orchestrator' });
      expect(r.hosting).toEqual([]);
    }
  });

  it('kill-region us-east-1 (no partner): global reads and writes go on elsewhere, its regional data is 503 + Retry-After; revive brings routing and replication back', async () => {
    const us = await newOrg('us-east-1');
    expect((await dossiers(us, { method: 'POST', body: JSON.stringify({ title: 'Before the outage', clientName: 'Ann Lee' }) })).status).toBe(201);

    await chaos('kill-region', 'us-east-1');
    const refused = await waitFor('us-east-1 regional traffic refused at the edge', async () => {
      const res = await dossiers(us);
      // Until the edge has seen the region down, the request may wait on the frozen API, or get
      // the region's own 503 (its database died first): never another region's answer.
      expect(res.headers.get('atlas-served-by') ?? 'none').not.toMatch(/^eu-/);
      return res.status === 503 && res.headers.get('atlas-route-reason') === 'unavailable:regional' && res;
    }, 60_000);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('never served from another jurisdiction');
    for (const method of ['GET', 'POST'] as const) {
      const res = await dossiers(us, method === 'POST' ? { method, body: JSON.stringify({ title: 'must not go abroad', clientName: 'Ann Lee' }) } : {});
      expect(res.status, method).toBe(503);
      expect(res.headers.get('atlas-served-by')).toBeNull();
    }

    // Global data goes on: a write (a new organization) and a read of the US organization's row, from the EU.
    const created = await fetch(`${edge}/api/orgs`, { method: 'POST', headers: { ...json, 'cf-ipcountry': 'US' }, body: JSON.stringify({ name: `During the outage ${Date.now()}`, homeRegion: 'eu-west-1' }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('atlas-region')).toMatch(/^eu-/);
    const written = ((await created.json()) as { id: string }).id;
    const read = await fetch(`${edge}/api/orgs/${us.id}`, { headers: { authorization: `Bearer ${us.token}` } });
    expect(read.status).toBe(200);
    expect(read.headers.get('atlas-region')).toMatch(/^eu-/);
    expect(read.headers.get('atlas-route-reason')).toBe('failover:global');

    // The status view degrades: the frozen region shows as down, the view itself answers.
    const during = await status(api('eu-west-1'));
    expect(entry(during, 'us-east-1')).toMatchObject({ reachable: false, health: 'down' });
    expect(entry(during, 'eu-west-1').health).toBe('up');

    await chaos('revive', 'us-east-1');
    const back = await waitFor('us-east-1 routed to again', async () => {
      const res = await dossiers(us);
      return res.status === 200 && res.headers.get('atlas-region') === 'us-east-1' && res;
    }, 120_000);
    expect(((await back.json()) as { items: Array<{ title: string }> }).items.map((d) => d.title)).toContain('Before the outage');
    // Replication catches up: the organization written elsewhere during the outage reaches us-east-1.
    const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
    const usDb = databaseUrl('postgres', secrets.superuserPassword, topology.regions.find((r) => r.id === 'us-east-1')!.dbPort + FORWARDER_PORT_OFFSET);
    await waitFor('the outage write replicated into us-east-1', async () => {
      const c = new pg.Client({ connectionString: usDb, connectionTimeoutMillis: 3_000 });
      await c.connect();
      try {
        return (await c.query('SELECT 1 FROM organization WHERE id = $1', [written])).rowCount === 1;
      } finally {
        await c.end();
      }
    }, 120_000);
  });

  it('kill-region eu-west-1 (partner eu-central-1): its standby there is promoted and eu-central-1 serves its organizations; revive returns routing', async () => {
    // The drill needs eu-west-1's primary at home and its standby streaming in the partner. A
    // loaded machine can make the orchestrator fail over on its own; a planned switchover
    // (`atlas failover`) brings the primary home again, with no loss.
    const euState = async () => entry(await status(api('eu-central-1')), 'eu-west-1').failover;
    if ((await euState())?.primaryHost !== 'eu-west-1') {
      await waitFor('eu-west-1 healthy with a synchronous standby', async () => (await euState())?.zeroLoss === 'kept', 180_000);
      const move = atlas(['failover', '--region', 'eu-west-1'], env);
      expect(await exited(move), move.output()).toBe(0);
    }
    await waitFor('eu-west-1 on its home primary with a synchronous standby in eu-central-1', async () => {
      const f = await euState();
      return f?.primaryHost === 'eu-west-1' && f.phase === 'healthy' && f.zeroLoss === 'kept';
    }, 180_000);
    const eu = await newOrg('eu-west-1');
    expect((await dossiers(eu, { method: 'POST', body: JSON.stringify({ title: 'Before the failover', clientName: 'Jean Dupont' }) })).status).toBe(201);
    // While eu-west-1 runs its own primary, its partner does not serve its organizations: 421 to the home.
    const direct = await fetch(`${api('eu-central-1')}/api/orgs/${eu.id}/dossiers`, { headers: { authorization: `Bearer ${eu.token}` } });
    expect(direct.status, orchestratorLines('eu-west-1')).toBe(421);
    expect(direct.headers.get('atlas-region')).toBe('eu-west-1');

    await chaos('kill-region', 'eu-west-1');
    const served = await waitFor('eu-west-1 organizations served by eu-central-1', async () => {
      const res = await dossiers(eu);
      if (res.status !== 200) {
        // Meanwhile: unavailable, never another jurisdiction.
        expect(res.headers.get('atlas-served-by') ?? 'none').not.toBe('us-east-1');
        expect(res.headers.get('atlas-region') ?? 'none').not.toBe('us-east-1');
        return false;
      }
      return res;
    }, 120_000).catch(async (err: Error) => {
      // Rare here (1 run in 14): keep what the orchestrator said and what the partner reports.
      const report = await status(api('eu-central-1')).then((s) => JSON.stringify(entry(s, 'eu-west-1')), (e: Error) => e.message);
      throw new Error(`${err.message}\neu-west-1 as eu-central-1 sees it: ${report}\norchestrator:\n${orchestratorLines('eu-west-1')}`);
    });
    expect(served.headers.get('atlas-region')).toBe('eu-central-1');
    expect(served.headers.get('atlas-route-reason')).toBe('failover:dr-partner');
    expect(served.headers.get('atlas-dr-host')).toBe('eu-central-1');
    expect(((await served.json()) as { items: Array<{ title: string }> }).items.map((d) => d.title)).toContain('Before the failover');
    // A refused write (503 + Retry-After: the edge saw the partner busy) is retried, as a client does.
    const refusals: string[] = [];
    const write = await waitFor(`a write at the partner (refusals: ${refusals.length})`, async () => {
      const res = await dossiers(eu, { method: 'POST', body: JSON.stringify({ title: 'At the partner', clientName: 'Jean Dupont' }) });
      if (res.status === 201) return res;
      refusals.push(`${res.status} ${res.headers.get('atlas-region')} ${res.headers.get('atlas-route-reason')} ${await res.text()}`);
      expect(res.status, refusals.join('\n')).toBe(503);
      expect(Number(res.headers.get('retry-after')), refusals.join('\n')).toBeGreaterThanOrEqual(1);
      return false;
    }, 60_000);
    if (refusals.length > 0) console.info(`writes refused before one went through at the partner:\n${refusals.join('\n')}`);
    expect(write.headers.get('atlas-region'), refusals.join('\n')).toBe('eu-central-1');
    expect(write.headers.get('atlas-dr-host')).toBe('eu-central-1');

    const s = await status(api('eu-central-1'));
    expect(entry(s, 'eu-central-1').hosting).toEqual(['eu-west-1']);
    expect(entry(s, 'eu-west-1')).toMatchObject({ reachable: false, health: 'down' });
    expect(entry(s, 'eu-west-1').failover).toMatchObject({ primaryHost: 'eu-central-1', source: 'orchestrator' });
    // Its new standby would live in eu-west-1, which is down: nothing acknowledges commits synchronously.
    expect(entry(s, 'eu-west-1').failover!.zeroLossSuspended).toBe(true);

    await chaos('revive', 'eu-west-1');
    const back = await waitFor('eu-west-1 routed to again', async () => {
      const res = await dossiers(eu);
      return res.status === 200 && res.headers.get('atlas-region') === 'eu-west-1' && res;
    }, 120_000);
    // Same database (the promoted standby), now reached through eu-west-1's own API.
    expect(((await back.json()) as { items: Array<{ title: string }> }).items.map((d) => d.title)).toEqual(expect.arrayContaining(['Before the failover', 'At the partner']));
  });
});
