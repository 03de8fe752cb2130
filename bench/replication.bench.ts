import pg from 'pg';
import { DelayProxy, endpointFromUrl, oneWayDelayMs, repointSubscription, setupMesh, waitForReplication, type MeshNode } from '@atlas/db';
import { startFreshRegions, type FreshRegions } from '../test/support/fresh-regions';
import { machineDescription, ms, percentile } from './report';

/**
 * Replication lag (p50/p95/p99) at 200 and 1,000 writes/s, straight and through the simulated
 * WAN (a delay proxy with half the topology's eu-west-1 ↔ us-east-1 round trip), and write
 * throughput with the conflict triggers against plain logical replication (triggers
 * disabled on both sides), measured in the same run.
 *
 * Lag of one write = when the subscriber's change notification (atlas_global_changed, sent
 * at the apply commit) reaches this process − when the publisher acknowledged the commit;
 * both instants on this process's clock.
 */

const LAG_SECONDS = Number(process.env.BENCH_REPLICATION_SECONDS ?? 3);
const THROUGHPUT_WRITES = Number(process.env.BENCH_REPLICATION_WRITES ?? 2000);
const WRITERS = 8;
const CHANNEL = 'atlas_global_changed';

interface LagFigures {
  readonly rate: number;
  readonly wan: boolean;
  readonly writes: number;
  readonly achievedRate: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly missing: number;
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

async function measureLag(publisher: MeshNode, subscriber: MeshNode, rate: number, wan: boolean, tag: string): Promise<LagFigures> {
  const listener = new pg.Client({ connectionString: subscriber.adminUrl });
  await listener.connect();
  const arrived = new Map<string, number>();
  listener.on('notification', (m) => {
    if (m.channel === CHANNEL && m.payload) arrived.set(m.payload, performance.now());
  });
  await listener.query(`LISTEN ${CHANNEL}`);
  const writers = await connectAll(publisher.adminUrl, WRITERS);
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
        // user_preferences: its change notification names the row ('<table>:<user_id>').
        const id = `usr_${tag}_${i}`;
        await c.query("INSERT INTO user_preferences (user_id, locale) VALUES ($1, 'en')", [id]);
        committed.set(`user_preferences:${id}`, performance.now());
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const deadline = performance.now() + 15_000;
  while (arrived.size < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await Promise.all([...writers, listener].map((c) => c.end()));
  const lags = [...committed].flatMap(([key, at]) => (arrived.has(key) ? [Math.max(0, arrived.get(key)! - at)] : [])).sort((a, b) => a - b);
  return {
    rate,
    wan,
    writes: total,
    achievedRate: total / elapsed,
    p50: percentile(lags, 50),
    p95: percentile(lags, 95),
    p99: percentile(lags, 99),
    missing: total - lags.length,
  };
}

async function setTriggers(nodes: readonly MeshNode[], enabled: boolean): Promise<void> {
  for (const node of nodes) {
    const c = new pg.Client({ connectionString: node.adminUrl });
    await c.connect();
    try {
      for (const t of ['organization', 'app_user', 'user_preferences', 'referential']) {
        // USER covers the stamp, apply and notification triggers; the replica one must be
        // re-marked ENABLE REPLICA afterwards, the notification one ENABLE ALWAYS.
        await c.query(`ALTER TABLE ${t} ${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
        if (enabled) {
          await c.query(`ALTER TABLE ${t} ENABLE REPLICA TRIGGER atlas_apply`);
          await c.query(`ALTER TABLE ${t} ENABLE ALWAYS TRIGGER atlas_notify_global_change`).catch(() => undefined);
        }
      }
    } finally {
      await c.end();
    }
  }
}

/** Writes per second from the first write to the last one applied on the subscriber. */
async function measureThroughput(publisher: MeshNode, subscriber: MeshNode, tag: string): Promise<number> {
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
  await waitForReplication([publisher], { timeoutMs: 120_000 });
  void subscriber;
  return THROUGHPUT_WRITES / ((performance.now() - started) / 1000);
}

export async function runReplicationBench(log: (line: string) => void = console.log): Promise<{ markdown: string }> {
  let fresh: FreshRegions | undefined;
  let proxy: DelayProxy | undefined;
  try {
    log('replication bench: starting eu-west-1 and us-east-1');
    fresh = await startFreshRegions(2, { prefix: 'atlas-bench-repl-' });
    const [eu, us] = fresh.nodes as [MeshNode, MeshNode];
    const oneWay = oneWayDelayMs(fresh.topology, 'eu-west-1', 'us-east-1');
    proxy = await DelayProxy.start({ target: endpointFromUrl(eu.adminUrl), delayMs: oneWay });
    const mesh = await setupMesh([eu, us]);
    if (!mesh.ok) throw new Error(`mesh set-up failed: ${JSON.stringify(mesh.steps.filter((s) => s.status === 'failed'))}`);

    const lag: LagFigures[] = [];
    for (const wan of [false, true]) {
      const endpoint = wan ? { host: '127.0.0.1', port: proxy.port } : endpointFromUrl(eu.adminUrl);
      await repointSubscription(us.adminUrl, 'eu-west-1', endpoint);
      await waitForReplication([eu]);
      for (const rate of [200, 1000]) {
        log(`replication bench: lag at ${rate} writes/s ${wan ? `through a ${oneWay} ms one-way WAN` : 'without WAN'}`);
        lag.push(await measureLag(eu, us, rate, wan, `lag${rate}${wan ? 'w' : ''}`));
      }
    }
    await repointSubscription(us.adminUrl, 'eu-west-1', endpointFromUrl(eu.adminUrl));
    await waitForReplication([eu]);

    // Alternate the two modes to spread the machine's noise over both.
    const withTriggers: number[] = [];
    const plain: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (const enabled of [true, false]) {
        await setTriggers([eu, us], enabled);
        log(`replication bench: throughput ${enabled ? 'with conflict triggers' : 'plain'} (round ${round + 1})`);
        (enabled ? withTriggers : plain).push(await measureThroughput(eu, us, `tp${round}${enabled ? 't' : 'p'}`));
      }
    }
    await setTriggers([eu, us], true);
    const best = (xs: number[]) => Math.max(...xs);
    const ratio = best(withTriggers) / best(plain);

    const rows = lag.map(
      (f) =>
        `| ${f.rate} | ${f.wan ? `yes (${oneWay} ms one way)` : 'no'} | ${f.writes} | ${f.achievedRate.toFixed(0)} | ${ms(f.p50)} | ${ms(f.p95)} | ${ms(f.p99)} | ${f.missing} |`,
    );
    const markdown = [
      machineDescription(),
      '',
      `Two regions (eu-west-1 → us-east-1), PostgreSQL 18 logical replication with the Atlas conflict triggers, subscription with synchronous_commit = on. ${WRITERS} writer connections, single-row INSERTs into a global table (user_preferences), paced to the target rate for ${LAG_SECONDS} s. Lag = change notification from the subscriber's apply commit received − commit acknowledged by the publisher (same process clock). WAN = the link re-pointed through the latency-injecting proxy.`,
      '',
      '| target writes/s | WAN | writes | achieved writes/s | lag p50 ms | lag p95 ms | lag p99 ms | not arrived |',
      '|---:|---|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      `Throughput: ${THROUGHPUT_WRITES} writes (half inserts, half updates) by ${WRITERS} connections as fast as possible, timed until the subscriber confirmed all of them; best of two alternating rounds each.`,
      '',
      '| mode | writes/s (rounds) |',
      '|---|---|',
      `| with conflict triggers (stamp + apply + notify) | ${best(withTriggers).toFixed(0)} (${withTriggers.map((x) => x.toFixed(0)).join(', ')}) |`,
      `| plain logical replication (user triggers disabled) | ${best(plain).toFixed(0)} (${plain.map((x) => x.toFixed(0)).join(', ')}) |`,
      `| ratio triggers / plain | ${ratio.toFixed(2)} |`,
    ].join('\n');
    return { markdown };
  } finally {
    await proxy?.close();
    await fresh?.stop();
  }
}
