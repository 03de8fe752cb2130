import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  APPLY_SYNCHRONOUS_COMMIT,
  DelayProxy,
  endpointFromUrl,
  oneWayDelayMs,
  repointSubscription,
  setupMesh,
  waitForReplication,
  type MeshNode,
  type RegionDatabase,
} from '@atlas/db';
import { listenForChanges, type ChangeListener } from '@atlas/api';
import { TSX_LOADER } from '../packages/cli/src/processes';
import { startFreshRegions, type FreshRegions } from '../test/support/fresh-regions';
import { machineDescription, ms, percentile } from './report';

/**
 * Replication lag (p50/p95/p99) at 200 and 1,000 writes/s, straight and through the simulated
 * WAN (a delay proxy with half the topology's eu-west-1 ↔ us-east-1 round trip), and write
 * throughput with the conflict triggers against plain logical replication (triggers
 * disabled on both sides), measured in the same run.
 *
 * Replication lag of one write = when the subscriber's apply worker wrote the row (a
 * replica-only trigger noting clock_timestamp(), installed for the lag runs only) − the
 * publisher's commit timestamp; one machine, one clock. (The subscriber's own commit
 * timestamp cannot serve: an applied transaction keeps its origin's.) Cache delay = when the
 * subscriber's cache-invalidation stream (the API's logical decoding stream,
 * lib/change-listener.ts) hands the change to this process − that apply.
 */

const LAG_SECONDS = Number(process.env.BENCH_REPLICATION_SECONDS ?? 3);
const THROUGHPUT_WRITES = Number(process.env.BENCH_REPLICATION_WRITES ?? 2000);
// Nine: the modes alternate, and one round of each takes about a second, so the noise of a
// shared machine moves single rounds by a fifth; the median of nine holds still.
const THROUGHPUT_ROUNDS = Number(process.env.BENCH_REPLICATION_ROUNDS ?? 9);
const WRITERS = 8;

interface LagFigures {
  readonly rate: number;
  readonly wan: boolean;
  readonly writes: number;
  readonly achievedRate: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** The cache-invalidation stream's delivery after the apply commit. */
  readonly cache: { readonly p50: number; readonly p95: number; readonly p99: number };
  readonly missing: number;
}

async function adminSql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url, application_name: 'atlas-bench' });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** Commit time (epoch ms, the database's clock) of each row whose user_id starts with prefix. */
async function commitTimes(url: string, prefix: string): Promise<Map<string, number>> {
  const rows = await adminSql<{ user_id: string; ms: string }>(
    url,
    'SELECT user_id, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000)::text AS ms FROM user_preferences WHERE left(user_id, length($1)) = $1',
    [prefix],
  );
  return new Map(rows.map((r) => [`user_preferences:${r.user_id}`, Number(r.ms)]));
}

/** A replica-only trigger on the subscriber noting when the apply worker wrote each row. */
async function noteApplies(url: string, on: boolean): Promise<void> {
  if (on) {
    await adminSql(
      url,
      `CREATE UNLOGGED TABLE IF NOT EXISTS public.bench_applied (user_id text PRIMARY KEY, at timestamptz NOT NULL);
       CREATE OR REPLACE FUNCTION public.bench_note_applied() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO public.bench_applied VALUES (NEW.user_id, clock_timestamp()) ON CONFLICT DO NOTHING; RETURN NULL; END $$;
       DROP TRIGGER IF EXISTS bench_note_applied ON public.user_preferences;
       CREATE TRIGGER bench_note_applied AFTER INSERT ON public.user_preferences FOR EACH ROW EXECUTE FUNCTION public.bench_note_applied();
       ALTER TABLE public.user_preferences ENABLE REPLICA TRIGGER bench_note_applied;`,
    );
  } else {
    await adminSql(url, 'DROP TRIGGER IF EXISTS bench_note_applied ON public.user_preferences; DROP FUNCTION IF EXISTS public.bench_note_applied(); DROP TABLE IF EXISTS public.bench_applied');
  }
}

async function applyTimes(url: string, prefix: string): Promise<Map<string, number>> {
  const rows = await adminSql<{ user_id: string; ms: string }>(
    url,
    'SELECT user_id, (extract(epoch FROM at) * 1000)::text AS ms FROM public.bench_applied WHERE left(user_id, length($1)) = $1',
    [prefix],
  );
  return new Map(rows.map((r) => [`user_preferences:${r.user_id}`, Number(r.ms)]));
}

async function connectAll(url: string, n: number): Promise<pg.Client[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client({ connectionString: url, application_name: 'atlas-bench' });
      await c.connect();
      return c;
    }),
  );
}

/** The API's cache stream on one database, as the API runs it; `onChange` sees every change. */
async function cacheStream(database: RegionDatabase, onChange: (table: string, key: string) => void): Promise<ChangeListener> {
  const listener = listenForChanges(database.cacheStreamUrl, {
    onChange,
    onReset: () => undefined,
    // It reconnects by itself; a lost change then shows as a write that never arrived.
    onError: (err) => console.warn(`replication bench: the cache stream of ${database.region.id} reconnects: ${err.message}`),
  });
  await listener.ready;
  return listener;
}

async function measureLag(publisher: MeshNode, subscriber: RegionDatabase, rate: number, wan: boolean, tag: string): Promise<LagFigures> {
  const arrived = new Map<string, number>();
  const listener = await cacheStream(subscriber, (table, key) => void arrived.set(`${table}:${key}`, performance.now()));
  const writers = await connectAll(publisher.adminUrl, WRITERS);
  // Warm-up: the link must be streaming before the clock starts. Right after a re-point the
  // subscription's worker is still reconnecting (up to wal_retrieve_retry_interval plus the
  // handshake round trips), and the first writes would measure that instead of the lag.
  const warm = `usr_${tag}_warm`;
  await writers[0]!.query("INSERT INTO user_preferences (user_id, locale) VALUES ($1, 'en')", [warm]);
  const warmDeadline = performance.now() + 15_000;
  while (!arrived.has(`user_preferences:${warm}`)) {
    if (performance.now() > warmDeadline)
      throw new Error(`the link from ${publisher.region} to ${subscriber.region.id} did not deliver the warm-up write`);
    await new Promise((r) => setTimeout(r, 5));
  }
  arrived.clear();
  const total = Math.round(rate * LAG_SECONDS);
  const committed = new Map<string, number>();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    writers.map(async (c) => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const due = started + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        // user_preferences: the stream names the row by its cache key, user_id.
        const id = `usr_${tag}_${i}`;
        await c.query("INSERT INTO user_preferences (user_id, locale) VALUES ($1, 'en')", [id]);
        committed.set(`user_preferences:${id}`, performance.now());
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const deadline = performance.now() + 15_000;
  while (arrived.size < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await Promise.all([...writers.map((c) => c.end()), listener.close()]);
  const prefix = `usr_${tag}_`;
  const [published, applied] = await Promise.all([commitTimes(publisher.adminUrl, prefix), applyTimes(subscriber.adminUrl, prefix)]);
  const lags: number[] = [];
  const cacheDelays: number[] = [];
  for (const key of committed.keys()) {
    const at = published.get(key);
    const there = applied.get(key);
    if (at === undefined || there === undefined) continue;
    lags.push(Math.max(0, there - at));
    const seen = arrived.get(key);
    if (seen !== undefined) cacheDelays.push(Math.max(0, performance.timeOrigin + seen - there));
  }
  lags.sort((a, b) => a - b);
  cacheDelays.sort((a, b) => a - b);
  return {
    rate,
    wan,
    writes: total,
    achievedRate: total / elapsed,
    p50: percentile(lags, 50),
    p95: percentile(lags, 95),
    p99: percentile(lags, 99),
    cache: { p50: percentile(cacheDelays, 50), p95: percentile(cacheDelays, 95), p99: percentile(cacheDelays, 99) },
    missing: total - Math.min(lags.length, cacheDelays.length),
  };
}

type TriggerMode = 'plain' | 'conflict' | 'full';
const MODE_LABEL: Record<TriggerMode, string> = {
  full: "conflict triggers + the API's cache-invalidation decoding streams (stamp + apply + one pgoutput stream per region consumed by a separate process, as the APIs do: production)",
  conflict: 'conflict triggers only (stamp + apply; no cache stream)',
  plain: 'plain logical replication (user triggers disabled)',
};
const MODE_SHORT: Record<TriggerMode, string> = { full: 'production', conflict: 'conflict triggers only', plain: 'plain' };

/**
 * plain: no user trigger (PostgreSQL's own logical replication); conflict and full: the stamp
 * and the replica-only apply trigger (full adds the cache streams, in measureThroughput).
 */
async function setTriggers(nodes: readonly MeshNode[], mode: TriggerMode): Promise<void> {
  for (const node of nodes) {
    const c = new pg.Client({ connectionString: node.adminUrl });
    await c.connect();
    try {
      for (const t of ['organization', 'app_user', 'user_preferences', 'referential']) {
        await c.query(`ALTER TABLE ${t} DISABLE TRIGGER USER`);
        if (mode === 'plain') continue;
        for (const op of ['insert', 'update', 'delete']) {
          await c.query(`ALTER TABLE ${t} ENABLE TRIGGER atlas_stamp_${op}`);
          await c.query(`ALTER TABLE ${t} ENABLE REPLICA TRIGGER atlas_apply_${op}`);
        }
      }
    } finally {
      await c.end();
    }
  }
}

/** Where a cluster's CPU goes: the processes the throughput comparison is about, and the rest. */
type CpuRole = 'walsenders' | 'apply worker' | 'other';
const CPU_ROLES: readonly CpuRole[] = ['walsenders', 'apply worker', 'other'];
const noCpu = (): Record<CpuRole, number> => ({ walsenders: 0, 'apply worker': 0, other: 0 });

function cpuRole(pid: string): CpuRole {
  // "postgres: walsender …", "postgres: logical replication apply worker …"
  const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  if (title.includes('walsender')) return 'walsenders';
  if (title.includes('apply worker')) return 'apply worker';
  return 'other';
}

/**
 * CPU time (ms) used so far by one PostgreSQL cluster, by role: its postmaster, the children
 * it has reaped (backends that ended: "other") and the children alive now. Counts only the
 * database's work, not this process's nor other programs sharing the machine: a figure that
 * holds still when the machine is busy, unlike writes per second.
 */
function clusterCpuMs(dataDir: string): Record<CpuRole, number> {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const ticks = (pid: number | string): { ppid: number; own: number; reaped: number } | undefined => {
    try {
      // Fields after the command name (which may hold spaces): state ppid … utime stime cutime cstime.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat
        .slice(stat.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number);
      return { ppid: f[1]!, own: f[11]! + f[12]!, reaped: f[13]! + f[14]! };
    } catch {
      return undefined; // ended meanwhile: its time is in the postmaster's reaped total
    }
  };
  const total = noCpu();
  const root = ticks(postmaster);
  if (root) total.other += root.own + root.reaped;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const t = ticks(entry);
    if (t?.ppid !== postmaster) continue;
    try {
      total[cpuRole(entry)] += t.own;
    } catch {
      total.other += t.own;
    }
  }
  for (const role of CPU_ROLES) total[role] = (total[role] * 1000) / 100; // USER_HZ = 100 on Linux
  return total;
}

const CONSUMER = fileURLToPath(new URL('./cache-stream-consumer.ts', import.meta.url));

/** cache-stream-consumer.ts in its own process: the regions' APIs decoding their streams. */
async function startConsumers(databases: readonly RegionDatabase[], tag: string, target: number) {
  const streams = Object.fromEntries(databases.map((d) => [d.region.id, d.cacheStreamUrl]));
  const child: ChildProcess = spawn(process.execPath, ['--import', TSX_LOADER, CONSUMER, JSON.stringify({ streams, tag, target })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: Record<string, unknown>) => void> = [];
  let complete: Record<string, number> | undefined;
  lines.on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    if (line.delivered && Object.values(line.delivered as Record<string, number>).every((n) => n >= target)) complete = line.delivered as Record<string, number>;
    waiting.shift()?.(line);
  });
  const next = () => new Promise<Record<string, unknown>>((resolve) => waiting.push(resolve));
  const ready = await next();
  if (!ready.ready) throw new Error(`the cache-stream consumer did not start: ${JSON.stringify(ready)}`);
  return {
    /** Resolves once every region delivered `target` changes; rejects at the deadline with the counts. */
    async allDelivered(deadline: number): Promise<void> {
      while (!complete) {
        if (performance.now() > deadline) {
          child.stdin!.write('\n');
          throw new Error(`the cache streams did not deliver the throughput writes within 120 s: ${JSON.stringify((await next()).delivered)}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close(): Promise<void> {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      await exited;
    },
  };
}

/**
 * Writes per second from the first write to the last one applied on the subscriber. With
 * `streams`, both regions' cache streams consume throughout, and must then have delivered
 * every write's change (checked after the clock stops: their delay is lag, not throughput).
 */
async function measureThroughput(publisher: RegionDatabase, subscriber: RegionDatabase, tag: string, streams: boolean): Promise<number> {
  // The production path: each region's API consumes its own database's stream throughout,
  // in a process of its own (not the load generator's event loop).
  const consumers = streams ? await startConsumers([publisher, subscriber], tag, THROUGHPUT_WRITES) : undefined;
  const writers = await connectAll(publisher.adminUrl, WRITERS);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    writers.map(async (c) => {
      for (;;) {
        const i = next++;
        if (i >= THROUGHPUT_WRITES) return;
        // Half new rows, half updates of rows written a moment earlier.
        const key = i % 2 === 0 ? i : i - 1;
        await c.query(
          `INSERT INTO referential (id, kind, code, label) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label`,
          [`${tag}:${key}`, tag, String(key), `v${i}`],
        );
      }
    }),
  );
  await Promise.all(writers.map((c) => c.end()));
  // Done when the subscriber holds what the publisher holds (applied and committed there);
  // not the slot's confirmed flush, which with synchronous_commit = off trails the apply by
  // up to the WAL writer's delay.
  const digest = `SELECT md5(coalesce(string_agg(id || '=' || label, ',' ORDER BY id), '')) AS d FROM referential WHERE kind = $1`;
  const pub = new pg.Client({ connectionString: publisher.adminUrl });
  const sub = new pg.Client({ connectionString: subscriber.adminUrl });
  await Promise.all([pub.connect(), sub.connect()]);
  let elapsed: number;
  try {
    const want = (await pub.query<{ d: string }>(digest, [tag])).rows[0]!.d;
    const deadline = performance.now() + 120_000;
    while ((await sub.query<{ d: string }>(digest, [tag])).rows[0]!.d !== want) {
      if (performance.now() > deadline) throw new Error(`${subscriber.region.id} did not receive the throughput writes within 120 s`);
      // Coarse enough that the polling's own CPU stays small next to the writes'.
      await new Promise((r) => setTimeout(r, 25));
    }
    elapsed = (performance.now() - started) / 1000;
    // Every write is one change in each region's stream (the publisher's commit, the apply's).
    await consumers?.allDelivered(deadline);
  } finally {
    await Promise.all([pub.end(), sub.end(), consumers?.close()]);
  }
  return THROUGHPUT_WRITES / elapsed;
}

export async function runReplicationBench(log: (line: string) => void = console.log): Promise<{ markdown: string }> {
  // The machine as the run starts (its load average then, not after the run's own load).
  const machine = machineDescription();
  let fresh: FreshRegions | undefined;
  let proxy: DelayProxy | undefined;
  try {
    log('replication bench: starting eu-west-1 and us-east-1');
    fresh = await startFreshRegions(2, { prefix: 'atlas-bench-repl-' });
    const [eu, us] = fresh.nodes as [MeshNode, MeshNode];
    const [euDb, usDb] = fresh.databases as [RegionDatabase, RegionDatabase];
    const oneWay = oneWayDelayMs(fresh.topology, 'eu-west-1', 'us-east-1');
    proxy = await DelayProxy.start({ target: endpointFromUrl(eu.adminUrl), delayMs: oneWay });
    const mesh = await setupMesh([eu, us]);
    if (!mesh.ok) throw new Error(`mesh set-up failed: ${JSON.stringify(mesh.steps.filter((s) => s.status === 'failed'))}`);

    const lag: LagFigures[] = [];
    await noteApplies(us.adminUrl, true);
    for (const wan of [false, true]) {
      const endpoint = wan ? { host: '127.0.0.1', port: proxy.port } : endpointFromUrl(eu.adminUrl);
      await repointSubscription(us.adminUrl, 'eu-west-1', endpoint);
      await waitForReplication([eu]);
      for (const rate of [200, 1000]) {
        log(`replication bench: lag at ${rate} writes/s ${wan ? `through a ${oneWay} ms one-way WAN` : 'without WAN'}`);
        lag.push(await measureLag(eu, usDb, rate, wan, `lag${rate}${wan ? 'w' : ''}`));
      }
    }
    await noteApplies(us.adminUrl, false);
    await repointSubscription(us.adminUrl, 'eu-west-1', endpointFromUrl(eu.adminUrl));
    await waitForReplication([eu]);

    // Alternate the modes to spread the machine's noise over all of them.
    const rounds: Record<TriggerMode, number[]> = { full: [], conflict: [], plain: [] };
    const cpuPerWrite: Record<TriggerMode, number[]> = { full: [], conflict: [], plain: [] };
    // Per role: walsenders, the subscriber's apply worker, the rest (mostly the writers' backends).
    const cpuByRole: Record<TriggerMode, Array<Record<CpuRole, number>>> = { full: [], conflict: [], plain: [] };
    const totalOf = (cpu: Record<CpuRole, number>) => CPU_ROLES.reduce((sum, role) => sum + cpu[role], 0);
    // Each database read once per instant. Apart as well as summed: deployed, each region's
    // database has a host of its own; the publisher's CPU per write bounds its write rate, the
    // subscriber's is mostly the apply worker's.
    const cpuNow = () => ({ publisher: clusterCpuMs(euDb.node.dataDir), subscriber: clusterCpuMs(usDb.node.dataDir) });
    const cpuPerWriteOf: Record<'publisher' | 'subscriber', Record<TriggerMode, number[]>> = {
      publisher: { full: [], conflict: [], plain: [] },
      subscriber: { full: [], conflict: [], plain: [] },
    };
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
      for (const mode of ['full', 'conflict', 'plain'] as const) {
        await setTriggers([eu, us], mode);
        log(`replication bench: throughput, ${MODE_LABEL[mode]} (round ${round + 1})`);
        const before = cpuNow();
        rounds[mode].push(await measureThroughput(euDb, usDb, `tp${round}${mode[0]}`, mode === 'full'));
        const after = cpuNow();
        const usPerWrite = (ms: number) => (ms * 1000) / THROUGHPUT_WRITES;
        for (const db of ['publisher', 'subscriber'] as const) cpuPerWriteOf[db][mode].push(usPerWrite(totalOf(after[db]) - totalOf(before[db])));
        const perWrite = Object.fromEntries(
          CPU_ROLES.map((role) => [role, usPerWrite(after.publisher[role] + after.subscriber[role] - before.publisher[role] - before.subscriber[role])]),
        ) as Record<CpuRole, number>;
        cpuByRole[mode].push(perWrite);
        cpuPerWrite[mode].push(totalOf(perWrite));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    await setTriggers([eu, us], 'full');
    const best = (xs: number[]) => Math.max(...xs);
    const ratio = (mode: TriggerMode) => best(rounds[mode]) / best(rounds.plain);

    const rows = lag.map(
      (f) =>
        `| ${f.rate} | ${f.wan ? `yes (${oneWay} ms one way)` : 'no'} | ${f.writes} | ${f.achievedRate.toFixed(0)} | ${ms(f.p50)} | ${ms(f.p95)} | ${ms(f.p99)} | ${ms(f.cache.p50)} / ${ms(f.cache.p95)} / ${ms(f.cache.p99)} | ${f.missing} |`,
    );
    const markdown = [
      machine,
      '',
      `Two regions (eu-west-1 → us-east-1), PostgreSQL 18 logical replication with the Atlas conflict triggers, subscription with synchronous_commit = ${APPLY_SYNCHRONOUS_COMMIT}. ${WRITERS} writer connections, single-row INSERTs into a global table (user_preferences), paced to the target rate for ${LAG_SECONDS} s. Lag = when the subscriber's apply worker wrote the row (a replica-only trigger noting clock_timestamp(), present for these runs only; the row is readable once that one-row transaction commits) − the publisher's commit timestamp; one machine, one clock. Cache delay = the change delivered by the subscriber's cache-invalidation stream (the API's logical decoding stream) − that apply; a walsender decodes only flushed WAL and the apply worker commits with synchronous_commit = ${APPLY_SYNCHRONOUS_COMMIT}, so the WAL writer's wake-up (wal_writer_delay, set to 10 ms by Atlas; 200 ms by default) bounds it. WAN = the link re-pointed through the latency-injecting proxy.`,
      '',
      '| target writes/s | WAN | writes | achieved writes/s | lag p50 ms | lag p95 ms | lag p99 ms | cache delay after apply p50 / p95 / p99 ms | not arrived |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      `Throughput: ${THROUGHPUT_WRITES} writes (half inserts, half updates) by ${WRITERS} connections as fast as possible, timed until the subscriber holds all of them (same digest of the rows as the publisher); best of ${THROUGHPUT_ROUNDS} alternating rounds each. The issue's goal compares the conflict triggers with plain logical replication; the production row adds what cache invalidation costs: each region's API consuming its own pgoutput stream (publication atlas_cache, a temporary slot per API process), checked to have delivered every write's change after the round. It replaced a NOTIFY trigger, which PostgreSQL serialised at commit (one global lock held through the commit's WAL flush).`,
      '',
      '| mode | writes/s (rounds) | ratio to plain, best / median of rounds | database CPU µs per write (median of rounds) | plain CPU / mode CPU |',
      '|---|---|---:|---:|---:|',
      ...(['full', 'conflict', 'plain'] as const).map(
        (mode) =>
          `| ${MODE_LABEL[mode]} | ${best(rounds[mode]).toFixed(0)} (${rounds[mode].map((x) => x.toFixed(0)).join(', ')}) | ${ratio(mode).toFixed(2)} / ${(median(rounds[mode]) / median(rounds.plain)).toFixed(2)} | ${median(cpuPerWrite[mode]).toFixed(0)} | ${(median(cpuPerWrite.plain) / median(cpuPerWrite[mode])).toFixed(2)} |`,
      ),
      '',
      "Database CPU = CPU time of both clusters' PostgreSQL processes (publisher backends, walsender, apply worker, WAL writer…) during the round, read from /proc, divided by the writes: unlike writes per second, it does not move with the load other programs put on the machine. Where it goes (µs per write, median of rounds): the apply worker is the subscriber's, where the apply trigger runs, and it is one process, so its time per write bounds the rate; other is mostly the writers' backends on the publisher, where the stamp runs (they end with the round, so their time is read from the postmaster's total of ended children), plus the WAL writer and the rest of both clusters:",
      '',
      `| mode | ${CPU_ROLES.join(' | ')} |`,
      `|---|${CPU_ROLES.map(() => '---:').join('|')}|`,
      ...(['full', 'conflict', 'plain'] as const).map((mode) => `| ${MODE_SHORT[mode]} | ${CPU_ROLES.map((role) => median(cpuByRole[mode].map((r) => r[role])).toFixed(0)).join(' | ')} |`),
      '',
      "The same CPU by database (µs per write, median of rounds). Deployed, each region's database has a host of its own: the publisher's figure bounds the rate at which it takes writes, the subscriber's the rate at which it applies them. Here both share two cores, and the throughput above pays for both. The subscriber's figure also holds the bench's polling for the last write (a digest of the round's rows every 25 ms):",
      '',
      '| mode | publisher (eu-west-1) | plain / mode | subscriber (us-east-1) | plain / mode |',
      '|---|---:|---:|---:|---:|',
      ...(['full', 'conflict', 'plain'] as const).map((mode) => {
        const [pub, sub] = [median(cpuPerWriteOf.publisher[mode]), median(cpuPerWriteOf.subscriber[mode])];
        return `| ${MODE_SHORT[mode]} | ${pub.toFixed(0)} | ${(median(cpuPerWriteOf.publisher.plain) / pub).toFixed(2)} | ${sub.toFixed(0)} | ${(median(cpuPerWriteOf.subscriber.plain) / sub).toFixed(2)} |`;
      }),
    ].join('\n');
    return { markdown };
  } finally {
    await proxy?.close();
    await fresh?.stop();
  }
}
