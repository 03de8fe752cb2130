import { appendFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseTopology, type Topology } from '@atlas/core';
import { databaseUrl, ensureRegionDatabase, fenceServer, loadOrCreateSecrets, nodeUrl, type LocalSecrets, type RegionDatabase, type RegionPorts } from '@atlas/db';
import { regionDbPort } from '../../../test/support/atlas-cli';
import { freePort } from '../../../test/support/free-port';
import { startOrchestrator, type Orchestrator, type OrchestratorOptions } from '../src/index';

export interface OneRegionCluster {
  readonly home: string;
  readonly topology: Topology;
  readonly secrets: LocalSecrets;
  readonly database: RegionDatabase;
  readonly ports: RegionPorts;
  readonly orchestrator: Orchestrator;
  readonly webhook: WebhookSink;
  readonly calls: { restore: Array<[string, string]>; repair: string[] };
  /** The API's view: atlas_app through the forwarder. */
  readonly appUrl: string;
  /** Superuser URL of whichever node is primary now. */
  primaryUrl(): string;
  stop(): Promise<void>;
}

export interface WebhookSink {
  readonly url: string;
  readonly received: Array<{ notification: string; message: string }>;
  close(): Promise<void>;
}

async function webhookSink(): Promise<WebhookSink> {
  const received: WebhookSink['received'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as { notification: string; message: string });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/hook`, received, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * One region with a real PostgreSQL 18 primary (initdb + migrations, as `atlas up` does) in
 * a fresh ATLAS_HOME under /tmp, and an orchestrator watching it on free loopback ports.
 */
export async function startOneRegion(id = 'eu-west-1', overrides: Partial<OrchestratorOptions> = {}): Promise<OneRegionCluster> {
  const home = await mkdtemp(join(tmpdir(), 'atlas-failover-'));
  await chmod(home, 0o755);
  const topology = parseTopology({
    regions: [{ id, code: 'euw1', displayName: 'Test region', jurisdiction: 'EU', apiPort: await freePort(), dbPort: await regionDbPort() }],
    rttMs: {},
    countryRegions: {},
    health: { intervalMs: 1000, downAfter: 3, upAfter: 2 },
  });
  const region = topology.regions[0]!;
  const secrets = await loadOrCreateSecrets(home, [id]);
  const database = await ensureRegionDatabase({ home, region, secrets });
  const ports: RegionPorts = { standby: await freePort(), forwarder: await freePort() };
  await withClient(database.adminUrl, async (c) => {
    await c.query('CREATE TABLE IF NOT EXISTS failover_probe (id bigint PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())');
    await c.query('GRANT SELECT, INSERT ON failover_probe TO atlas_app');
  });
  const webhook = await webhookSink();
  const calls: OneRegionCluster['calls'] = { restore: [], repair: [] };
  const orchestrator = await startOrchestrator({
    home,
    topology,
    superuserPassword: secrets.superuserPassword,
    ports: { [id]: ports },
    probeIntervalMs: 200,
    probeTimeoutMs: 1_000,
    controlPort: 0,
    webhookUrl: webhook.url,
    // ATLAS_TEST_LOG=<file> keeps the orchestrator's log for a failing run.
    log: process.env.ATLAS_TEST_LOG ? (line) => appendFileSync(process.env.ATLAS_TEST_LOG!, `${new Date().toISOString()} ${line}\n`) : () => undefined,
    restoreReplicationLinks: async (r, url) => {
      calls.restore.push([r, url]);
    },
    repairGlobalTables: async (r) => {
      calls.repair.push(r);
    },
    ...overrides,
  });
  const runner = orchestrator.runners.get(id)!;
  return {
    home,
    topology,
    secrets,
    database,
    ports,
    orchestrator,
    webhook,
    calls,
    appUrl: databaseUrl('atlas_app', secrets.appPassword, ports.forwarder),
    primaryUrl: () => nodeUrl(runner.location('primary').port, secrets.superuserPassword),
    async stop() {
      await orchestrator.stop().catch(() => undefined);
      await fenceServer(runner.location('primary').dataDir).catch(() => undefined);
      await fenceServer(runner.location('standby').dataDir).catch(() => undefined);
      await webhook.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export interface WriterReport {
  readonly acknowledged: number[];
  readonly failed: number;
  /** Time of the first acknowledged write after `markAt` (ms since the epoch). */
  firstAckAfter(markAt: number): number | undefined;
  /** The longest pause between two acknowledged writes ending after `markAt`: the write outage (ms). */
  longestGapAfter(markAt: number): number;
}

/**
 * A steady writer like the API: atlas_app through the region's database address, one insert
 * every `everyMs`, retrying on errors. Only a resolved insert counts as acknowledged.
 */
export function startWriter(url: string, options: { everyMs?: number; startId?: number } = {}) {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 1_000, query_timeout: 5_000 });
  pool.on('error', () => undefined);
  const acknowledged: number[] = [];
  const ackTimes: number[] = [];
  let failed = 0;
  let next = options.startId ?? 1;
  let running = true;
  const loop = (async () => {
    while (running) {
      const id = next++;
      const started = Date.now();
      try {
        await pool.query('INSERT INTO failover_probe (id) VALUES ($1)', [id]);
        acknowledged.push(id);
        ackTimes.push(Date.now());
      } catch {
        failed += 1;
      }
      const pause = (options.everyMs ?? 10) - (Date.now() - started);
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  })();
  return {
    get count() {
      return acknowledged.length;
    },
    async stop(): Promise<WriterReport> {
      running = false;
      await loop;
      await pool.end().catch(() => undefined);
      return {
        acknowledged,
        failed,
        firstAckAfter: (markAt) => ackTimes.find((t) => t > markAt),
        longestGapAfter: (markAt) => {
          let gap = 0;
          for (let i = 1; i < ackTimes.length; i += 1) if (ackTimes[i]! >= markAt) gap = Math.max(gap, ackTimes[i]! - ackTimes[i - 1]!);
          return gap;
        },
      };
    },
  };
}

export async function missingIds(url: string, ids: readonly number[]): Promise<number[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ id: string }>('SELECT id FROM failover_probe');
    const present = new Set(rows.map((r) => Number(r.id)));
    return ids.filter((id) => !present.has(id));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return check();
}
