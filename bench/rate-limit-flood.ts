import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RegionConfig } from '@atlas/core';
import type { LocalSecrets } from '@atlas/db';
import { API_SERVER, TSX_LOADER, httpReady, spawnTs, stopChild, waitFor } from '../packages/cli/src/processes';
import { freePort } from '../test/support/free-port';
import { benchAuthEnv, benchSignIn, percentile } from './report';


/**
 * Both organizations' budget: B's reads for the whole run fit in its capacity, and A's
 * sustained share (once its capacity is spent) is under 2 req/s, so that what B is measured
 * against is a flood of refusals; on a two-core machine, A's budget served in full is a load of
 * its own (see BENCH_FLOOD_RATE below A's sustained rate for that comparison).
 */
const ORG_LIMIT = process.env.BENCH_FLOOD_ORG_LIMIT ?? '9000/3600';
const FLOOD_RATE = Number(process.env.BENCH_FLOOD_RATE ?? 1000);
const VICTIM_RATE = Number(process.env.BENCH_VICTIM_RATE ?? 40);
/** Length of one window (B alone, or B while A floods), and how much of its start is not counted. */
const WINDOW_S = Number(process.env.BENCH_FLOOD_WINDOW_S ?? 1);
const SETTLE_S = Number(process.env.BENCH_FLOOD_SETTLE_S ?? 0.2);
/** Pairs of windows; each pair is alone+flood or flood+alone (alternating), so drift cancels. */
const CYCLES = Number(process.env.BENCH_FLOOD_CYCLES ?? 90);
/** Scheduling priority of the flood client's process (0 = the same as the API's). */
const FLOOD_NICE = Number(process.env.BENCH_FLOOD_NICE ?? 10);
const FLOOD_CONNECTIONS = Number(process.env.BENCH_FLOOD_CONNECTIONS ?? 20);
const VICTIM_CONNECTIONS = 4;
const FLOOD_CLIENT = fileURLToPath(new URL('./flood-client.ts', import.meta.url));

interface FloodCounts {
  readonly sent: number;
  readonly answered: number;
  readonly ok: number;
  readonly limited: number;
  readonly other: number;
  readonly reconnects: number;
  readonly cpuMs: number;
}

/** CPU time (user + system) a process has used, from /proc (Linux; clock ticks of 10 ms). */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * CPU time of a PostgreSQL cluster: its postmaster, the backends it has reaped (cutime, cstime)
 * and every backend alive now.
 */
function pgCpuMs(postmaster: number | undefined): number {
  if (postmaster === undefined) return NaN;
  const ticks = (pid: number | string, withChildren: boolean) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ms: (Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0)) * 10 };
  };
  let total: number;
  try {
    total = ticks(postmaster, true).ms;
  } catch {
    return NaN;
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const t = ticks(entry, false);
      if (t.ppid === postmaster) total += t.ms;
    } catch {
      // gone meanwhile (then counted in the postmaster's cutime/cstime)
    }
  }
  return total;
}

/** The API's event-loop delay since the last scrape (prom-client resets its histogram on each). */
async function loopLag(url: string): Promise<{ p99Ms: number; maxMs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99Ms: read('nodejs_eventloop_lag_p99_seconds'), maxMs: read('nodejs_eventloop_lag_max_seconds') };
}

/** A Node HTTP server that answers every request with the same 429 and does nothing else. */
const BARE_429 = `
const body = Buffer.from('{"error":{"code":"ATLAS_ERR_RATE_LIMITED","message":"too many requests from this organization; retry in 3 s"}}');
require('node:http').createServer((req, res) => {
  res.writeHead(429, ['content-type', 'application/json; charset=utf-8', 'retry-after', '3', 'content-length', String(body.length)]);
  res.end(body);
}).listen(Number(process.argv[1]), '127.0.0.1', () => process.stdout.write('up\\n'));
`;

/** The flood client (flood-client.ts) in its own, lower-priority process, driven over stdin. */
class Flood {
  private readonly child: ChildProcess;
  private lines: string[] = [];
  private waiting: Array<(line: string) => void> = [];

  private constructor(order: { host: string; port: number; path: string; authorization: string; connections: number; rate: number }) {
    this.child = spawn(process.execPath, ['--import', TSX_LOADER, FLOOD_CLIENT, JSON.stringify(order)], { stdio: ['pipe', 'pipe', 'inherit'] });
    if (this.child.pid !== undefined && FLOOD_NICE !== 0) setPriority(this.child.pid, FLOOD_NICE);
    let out = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) !== -1) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const next = this.waiting.shift();
        if (next) next(line);
        else this.lines.push(line);
      }
    });
  }

  static async start(order: { host: string; port: number; path: string; authorization: string; connections: number; rate: number }): Promise<Flood> {
    const flood = new Flood(order);
    const first = await flood.line();
    if (!first.includes('"ready"')) throw new Error(`the flood client did not start: ${first}`);
    return flood;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private line(): Promise<string> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.child.exitCode !== null) return Promise.reject(new Error(`the flood client exited (${this.child.exitCode})`));
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  command(what: 'on' | 'off'): void {
    this.child.stdin!.write(`${what}\n`);
  }

  async report(): Promise<FloodCounts> {
    this.child.stdin!.write('report\n');
    return JSON.parse(await this.line()) as FloodCounts;
  }

  async stop(): Promise<FloodCounts> {
    this.child.stdin!.write('stop\n');
    const last = JSON.parse(await this.line()) as FloodCounts;
    await new Promise((resolve) => (this.child.exitCode !== null ? resolve(undefined) : this.child.once('exit', resolve)));
    return last;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * The floor under any refusal on this machine: CPU per request of a bare HTTP server answering a
 * fixed 429 to the same flood client (same rate, connections and priority) for a few seconds.
 */
async function bareRefusalCostUs(log: (line: string) => void): Promise<number> {
  const port = await freePort();
  const bare = spawn(process.execPath, ['-e', BARE_429, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let flood: Flood | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      bare.stdout!.once('data', () => resolve());
      bare.once('exit', (code) => reject(new Error(`the bare 429 server exited (${code})`)));
    });
    flood = await Flood.start({ host: '127.0.0.1', port, path: '/api/orgs/x/annonces', authorization: 'Bearer x.y.z', connections: FLOOD_CONNECTIONS, rate: FLOOD_RATE });
    flood.command('on');
    await sleep(1000);
    const before = cpuMsOf(bare.pid);
    const sentBefore = (await flood.report()).answered;
    await sleep(5000);
    const answered = (await flood.report()).answered - sentBefore;
    const us = ((cpuMsOf(bare.pid) - before) * 1000) / Math.max(1, answered);
    log(`flood figure: bare 429 server: ${answered} requests, ${us.toFixed(0)} µs of CPU each`);
    return us;
  } finally {
    await flood?.stop().catch(() => flood?.kill());
    bare.kill('SIGTERM');
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  readonly at: number;
  readonly ms: number;
  readonly status: number;
}

/**
 * Organization B's client: keep-alive node:http over VICTIM_CONNECTIONS sockets, one request
 * every 1/rate s on a fixed schedule (open loop), each timed with the high-resolution clock
 * from the moment it is handed to the agent until its last byte.
 */
function victimLoad(url: URL, authorization: string, rate: number): { stop(): Promise<Sample[]> } {
  const agent = new Agent({ keepAlive: true, maxSockets: VICTIM_CONNECTIONS });
  const samples: Sample[] = [];
  const pending = new Set<Promise<void>>();
  const period = 1000 / rate;
  const t0 = performance.now();
  let i = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const one = () => {
    const at = performance.now();
    const done = new Promise<void>((resolve) => {
      const req = httpRequest(url, { agent, headers: { authorization } }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          samples.push({ at, ms: performance.now() - at, status: res.statusCode ?? 0 });
          resolve();
        });
      });
      req.on('error', () => {
        samples.push({ at, ms: performance.now() - at, status: 0 });
        resolve();
      });
      req.end();
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
  };
  const next = () => {
    if (stopped) return;
    one();
    i++;
    timer = setTimeout(next, Math.max(0, t0 + i * period - performance.now()));
  };
  next();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(pending);
      agent.destroy();
      return samples;
    },
  };
}

interface Window {
  readonly flood: boolean;
  readonly from: number;
  readonly to: number;
  readonly apiCpuMs: number;
  readonly pgCpuMs: number;
  readonly floodCpuMs: number;
  readonly floodAnswered: number;
  readonly floodOk: number;
  readonly floodLimited: number;
  readonly floodSent: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
}

export interface FloodFigure {
  readonly markdown: string;
}

export interface FloodSetup {
  readonly home: string;
  readonly region: RegionConfig;
  readonly topologyFile: string;
  readonly databaseUrl: string;
  /** The API's cache-invalidation stream (as `atlas up` runs it). */
  readonly cacheStreamUrl: string;
  readonly secrets: LocalSecrets;
  /** The database cluster's data directory (its postmaster.pid), to account for its CPU. */
  readonly pgDataDir?: string;
}

/** One API configuration under the same flood: its name and ATLAS_RATE_LIMIT_HOLD_MAX_S. */
interface Variant {
  readonly name: string;
  readonly holdMaxS?: string;
}

interface VariantResult {
  readonly variant: Variant;
  readonly windows: Window[];
  readonly samples: Sample[];
}

/**
 * One API process (configured as `variant` says) under the flood: organization B reads at a
 * steady VICTIM_RATE the whole time; organization A's client (its own lower-priority process,
 * connected throughout) is switched on and off in windows of WINDOW_S, CYCLES pairs alone/flood
 * in alternating order; the first SETTLE_S of each window is not counted.
 */
async function measureVariant(setup: FloodSetup, variant: Variant, log: (line: string) => void): Promise<VariantResult> {
  const { home, region, topologyFile, databaseUrl, cacheStreamUrl, secrets } = setup;
  const api = spawnTs(
    API_SERVER,
    {
      ...process.env,
      ATLAS_REGION: region.id,
      ATLAS_HOME: home,
      ATLAS_TOPOLOGY: topologyFile,
      DATABASE_URL: databaseUrl,
      ATLAS_CACHE_STREAM_URL: cacheStreamUrl,
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
      ...(variant.holdMaxS !== undefined ? { ATLAS_RATE_LIMIT_HOLD_MAX_S: variant.holdMaxS } : {}),
    },
    join(home, 'api-flood.log'),
  );
  const postmaster = (() => {
    if (!setup.pgDataDir) return undefined;
    try {
      return Number(readFileSync(join(setup.pgDataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  })();
  const url = `http://127.0.0.1:${region.apiPort}`;
  let flood: Flood | undefined;
  try {
    if (!(await waitFor(() => httpReady(`${url}/readyz`), 60_000))) throw new Error(`the API did not start; see ${join(home, 'api-flood.log')}`);
    const org = async (name: string) =>
      ((await (await fetch(`${url}/api/orgs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, homeRegion: region.id }) })).json()) as { id: string }).id;
    const flooder = await org('Flooder');
    const victim = await org('Bystander');
    const flooderAuth = await benchSignIn(url, flooder, 'flooder@bench.example');
    const victimAuth = await benchSignIn(url, victim, 'bystander@bench.example');
    const victimUrl = new URL(`${url}/api/orgs/${victim}/annonces?limit=10`);

    log(`flood figure (${variant.name}): warm-up, A's budget spent, then ${CYCLES} pairs of ${WINDOW_S} s windows`);
    const warm = victimLoad(victimUrl, victimAuth.authorization!, 100);
    await sleep(1000);
    await warm.stop();

    flood = await Flood.start({ host: '127.0.0.1', port: region.apiPort, path: `/api/orgs/${flooder}/annonces?limit=10`, authorization: flooderAuth.authorization!, connections: FLOOD_CONNECTIONS, rate: FLOOD_RATE });
    // Spend A's budget first (bounded), so that B is measured against a flood of 429s.
    // (A client within the sustained budget is never limited: nothing to spend first.)
    const sustained = CAPACITY / PER_SECONDS;
    if (FLOOD_RATE > sustained) flood.command('on');
    const drainDeadline = Date.now() + 300_000;
    while (FLOOD_RATE > sustained && (await flood.report()).limited === 0) {
      if (Date.now() > drainDeadline) throw new Error('organization A was never limited');
      await sleep(200);
    }
    flood.command('off');
    await sleep(1000);

    const load = victimLoad(victimUrl, victimAuth.authorization!, VICTIM_RATE);
    await sleep(500);
    const windows: Window[] = [];
    for (let c = 0; c < CYCLES; c++) {
      const order = c % 2 === 0 ? [false, true] : [true, false];
      for (const on of order) {
        flood.command(on ? 'on' : 'off');
        // Every reading (/proc, /metrics, the flood client's counts) is taken outside the
        // counted interval: they block this process, which is also B's client.
        await sleep(SETTLE_S * 1000);
        const f0 = await flood.report();
        const api0 = cpuMsOf(api.pid);
        const pg0 = pgCpuMs(postmaster);
        await loopLag(url);
        const from = performance.now();
        await sleep((WINDOW_S - SETTLE_S) * 1000);
        const to = performance.now();
        // B's requests sent just before `to` finish before anything is read.
        await sleep(100);
        const lag = await loopLag(url);
        const apiCpuMs = cpuMsOf(api.pid) - api0;
        const pgCpu = pgCpuMs(postmaster) - pg0;
        const f1 = await flood.report();
        windows.push({
          flood: on,
          from,
          to,
          apiCpuMs,
          pgCpuMs: pgCpu,
          floodCpuMs: f1.cpuMs - f0.cpuMs,
          floodAnswered: f1.answered - f0.answered,
          floodOk: f1.ok - f0.ok,
          floodLimited: f1.limited - f0.limited,
          floodSent: f1.sent - f0.sent,
          lagP99Ms: lag.p99Ms,
          lagMaxMs: lag.maxMs,
        });
      }
      if ((c + 1) % 30 === 0) log(`flood figure (${variant.name}): ${c + 1}/${CYCLES} pairs`);
    }
    flood.command('off');
    const samples = await load.stop();
    await flood.stop();
    flood = undefined;
    const failed = samples.filter((x) => x.status !== 200);
    if (failed.length > 0) throw new Error(`organization B got ${failed.length} answers other than 200 (first: ${failed[0]!.status}); its budget (${ORG_LIMIT}) must cover its reads`);
    return { variant, windows, samples };
  } finally {
    flood?.kill();
    await stopChild(api);
  }
}

const [CAPACITY, PER_SECONDS] = ORG_LIMIT.split('/').map(Number) as [number, number];

/**
 * "A flood from one organization gets 429 while another organization's p99 stays within 20 % of
 * its unloaded value", measured on a real API process over HTTP, for the API as it ships
 * (connection hold after a 429 on) and, for comparison in the same run, with the hold off.
 * Within each, B alone and B while A floods alternate in short windows so that both conditions
 * see the same machine; B's latencies are high-resolution; CPU of the API, the database cluster
 * and the flood client per condition come from /proc, the API's event-loop delay from its
 * /metrics (prom-client's monitorEventLoopDelay histogram, reset at each scrape).
 */
export async function floodVersusOtherOrganization(setup: FloodSetup, log: (line: string) => void): Promise<FloodFigure> {
  const victimNeeds = VICTIM_RATE * (CYCLES * 2 * WINDOW_S + 3) + 200;
  if (victimNeeds > CAPACITY + (CAPACITY / PER_SECONDS) * CYCLES * 2 * WINDOW_S) throw new Error(`organization B needs about ${victimNeeds.toFixed(0)} requests: raise BENCH_FLOOD_ORG_LIMIT (${ORG_LIMIT})`);
  // BENCH_FLOOD_VARIANTS=shipped: only the API as it ships.
  const variants: Variant[] = [
    ...(process.env.BENCH_FLOOD_VARIANTS === 'shipped' ? [] : [{ name: 'hold off', holdMaxS: '0' }]),
    { name: 'as shipped (hold on)' },
  ];
  const startedAt = `${new Date().toISOString()}, load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
  const results: VariantResult[] = [];
  for (const variant of variants) results.push(await measureVariant(setup, variant, log));
  const floorUs = await bareRefusalCostUs(log);

  const p = (xs: number[], q: number) => percentile(xs, q);
  const f2 = (x: number) => x.toFixed(2);
  const rows: string[] = [];
  const bullets: string[] = [];
  let shippedRatio = NaN;
  for (const { variant, windows, samples } of results) {
    const inWindows = (flooding: boolean, which: (i: number) => boolean = () => true) => {
      const ws = windows.filter((w, i) => w.flood === flooding && which(i));
      return samples.filter((x) => ws.some((w) => x.at >= w.from && x.at < w.to)).map((x) => x.ms).sort((a, b) => a - b);
    };
    const sum = (flooding: boolean, f: (w: Window) => number) => windows.filter((w) => w.flood === flooding).reduce((n, w) => n + f(w), 0);
    // CPU and counts cover the counted interval and the readings around it.
    const seconds = (flooding: boolean) => sum(flooding, (w) => w.to - w.from + 100) / 1000;
    const pct = (flooding: boolean, f: (w: Window) => number) => `${((sum(flooding, f) / (seconds(flooding) * 1000)) * 100).toFixed(1)} %`;
    const medianOf = (flooding: boolean, f: (w: Window) => number) => {
      const xs = windows.filter((w) => w.flood === flooding).map(f).sort((a, b) => a - b);
      return xs[Math.floor((xs.length - 1) / 2)]!;
    };
    const maxOf = (flooding: boolean, f: (w: Window) => number) => Math.max(...windows.filter((w) => w.flood === flooding).map(f));
    const row = (flooding: boolean) => {
      const xs = inWindows(flooding);
      return `| ${variant.name} | ${flooding ? 'B while A floods' : 'B alone'} | ${xs.length} | ${f2(p(xs, 50))} | ${f2(p(xs, 90))} | ${f2(p(xs, 99))} | ${f2(p(xs, 99.9))} | ${f2(medianOf(flooding, (w) => w.lagP99Ms))} / ${f2(maxOf(flooding, (w) => w.lagMaxMs))} | ${pct(flooding, (w) => w.apiCpuMs)} | ${pct(flooding, (w) => w.pgCpuMs)} | ${pct(flooding, (w) => w.floodCpuMs)} | ${(sum(flooding, (w) => w.floodAnswered) / seconds(flooding)).toFixed(0)} / ${(sum(flooding, (w) => w.floodOk) / seconds(flooding)).toFixed(1)} |`;
    };
    rows.push(row(false), row(true));
    const alone = inWindows(false);
    const loaded = inWindows(true);
    const ratio = p(loaded, 99) / p(alone, 99);
    const pairs = windows.length / 2;
    const half = (first: boolean) => (i: number) => (Math.floor(i / 2) < pairs / 2) === first;
    const halfRatio = (first: boolean) => p(inWindows(true, half(first)), 99) / p(inWindows(false, half(first)), 99);
    // The noise floor: B alone in odd pairs against B alone in even pairs (no flood in either).
    const noise = p(inWindows(false, (i) => Math.floor(i / 2) % 2 === 1), 99) / p(inWindows(false, (i) => Math.floor(i / 2) % 2 === 0), 99);
    const extraUs = ((sum(true, (w) => w.apiCpuMs) / seconds(true) - sum(false, (w) => w.apiCpuMs) / seconds(false)) * 1000) / Math.max(1, sum(true, (w) => w.floodAnswered) / seconds(true));
    const limitedShare = sum(true, (w) => w.floodLimited) / Math.max(1, sum(true, (w) => w.floodAnswered));
    bullets.push(
      `- ${variant.name}: A's client sent ${(sum(true, (w) => w.floodSent) / seconds(true)).toFixed(0)} req/s (asked: ${FLOOD_RATE}), ${(limitedShare * 100).toFixed(1)} % of the answers 429; API CPU per answered flood request (extra over B alone): ${extraUs.toFixed(0)} µs; B's p99 ratio in the first / second half of the run ${halfRatio(true).toFixed(2)}× / ${halfRatio(false).toFixed(2)}×, noise floor (B alone, odd / even pairs) ${noise.toFixed(2)}×; **B's p99 while A floods / alone: ${f2(p(loaded, 99))} / ${f2(p(alone, 99))} ms = ${ratio.toFixed(2)}×**`,
    );
    if (variant.holdMaxS === undefined) shippedRatio = ratio;
  }
  const markdown = [
    `Flood vs another organization (measured ${startedAt}; real API process over HTTP; organization limit ${ORG_LIMIT}, i.e. ${CAPACITY} at once then ${(CAPACITY / PER_SECONDS).toFixed(2)} req/s, so that B's reads fit in its budget and A, its capacity spent before measuring, is refused almost everything; A's client asks for ${FLOOD_RATE} req/s over ${FLOOD_CONNECTIONS} keep-alive connections, one request in flight each, from its own process at nice ${FLOOD_NICE}; B reads at ${VICTIM_RATE} req/s over ${VICTIM_CONNECTIONS} keep-alive connections the whole time, each request timed with the high-resolution clock; ${CYCLES} pairs of ${WINDOW_S} s windows, B alone / B while A floods in alternating order, the first ${SETTLE_S} s of each window not counted; event-loop delay from the API's /metrics per window (median of the windows' p99 / worst max); 2 shared cores, other work on the machine included):`,
    '',
    "| API | B's requests | n | p50 ms | p90 ms | p99 ms | p99.9 ms | event-loop delay p99 / max ms | API CPU | PostgreSQL CPU | flood client CPU | A answered / served req/s |",
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ...bullets,
    `- For scale, measured in the same run: a bare Node HTTP server (no framework) answering a fixed 429 to the same flood client costs ${floorUs.toFixed(0)} µs of CPU per request (kernel included)`,
    `- Goal (B's p99 within 20 % of its unloaded value, API as shipped): ${shippedRatio.toFixed(2)}× — ${shippedRatio <= 1.2 ? 'met' : 'NOT met'}`,
  ].join('\n');
  log(markdown);
  return { markdown };
}
