import { fenceServer } from '@atlas/db';
import { missingIds, startOneRegion, startWriter, until } from '../packages/orchestrator/test/support';
import { machineDescription, percentile } from './report';

const RUNS = 5;
const REGION = 'eu-west-1';

interface Run {
  readonly kind: 'kill' | 'switchover';
  /** Longest pause between acknowledged writes through the region's database address. */
  readonly rtoMs: number;
  readonly acknowledged: number;
  readonly lost: number;
}

/**
 * RTO of the failover orchestrator on real PostgreSQL 18 nodes: a steady writer (~100
 * writes/s, as atlas_app through the region's database address, like the API) while the
 * primary is killed with SIGKILL (postmaster and children), or switched over on purpose.
 * RTO = the write outage (longest pause between two acknowledged writes from the disruption
 * on, so it includes detection); lost = acknowledged writes missing
 * from the new primary (must be 0).
 */
export async function runFailoverBench(log: (line: string) => void = console.log): Promise<{ markdown: string }> {
  const cluster = await startOneRegion(REGION);
  const runner = cluster.orchestrator.runners.get(REGION)!;
  const runs: Run[] = [];
  let range = 0;
  try {
    for (const kind of ['kill', 'switchover'] as const) {
      for (let i = 0; i < RUNS; i += 1) {
        if (!(await cluster.orchestrator.waitForPhase(REGION, 'healthy', 60_000))) throw new Error(`region not healthy before run: ${runner.state.phase}`);
        const oldPort = runner.location('primary').port;
        const writer = startWriter(cluster.appUrl, { everyMs: 10, startId: (range += 1_000_000) });
        await until(() => writer.count >= 100, 10_000);
        let at: number;
        if (kind === 'kill') {
          await fenceServer(runner.location('primary').dataDir);
          at = Date.now();
        } else {
          at = Date.now();
          const result = await cluster.orchestrator.plannedSwitchover(REGION);
          if (!result.ok) throw new Error(`switchover failed: ${result.message}`);
        }
        await until(() => runner.location('primary').port !== oldPort, 30_000);
        const before = writer.count;
        await until(() => writer.count >= before + 100, 20_000);
        const report = await writer.stop();
        // The write outage: the longest pause between acknowledged writes around the disruption.
        const rtoMs = report.longestGapAfter(at);
        const lost = (await missingIds(cluster.primaryUrl(), report.acknowledged)).length;
        runs.push({ kind, rtoMs, acknowledged: report.acknowledged.length, lost });
        log(`${kind} #${i + 1}: RTO ${rtoMs} ms, ${report.acknowledged.length} acknowledged, ${lost} lost`);
      }
    }
  } finally {
    await cluster.stop();
  }
  const row = (kind: Run['kind'], label: string) => {
    const of = runs.filter((r) => r.kind === kind);
    const rto = of.map((r) => r.rtoMs).sort((a, b) => a - b);
    return `| ${label} | ${of.length} | ${percentile(rto, 50).toFixed(0)} | ${Math.max(...rto).toFixed(0)} | ${of.reduce((s, r) => s + r.acknowledged, 0)} | ${of.reduce((s, r) => s + r.lost, 0)} |`;
  };
  const markdown = [
    machineDescription(),
    '',
    'One region, PostgreSQL 18 primary + synchronous hot standby,',
    'orchestrator probing every 200 ms (fresh connections, 1 s timeout; failed after 3 probes and ≥ 1 s). A writer inserts ~100 rows/s as',
    "atlas_app through the region's database address (the forwarder the API uses). RTO = write outage: the longest pause between two acknowledged writes (detection included).",
    'Goals (issue 4): RTO ≤ 5 s locally, 0 acknowledged writes lost.',
    '',
    '| scenario | runs | RTO p50 (ms) | RTO max (ms) | acknowledged writes | acknowledged writes lost |',
    '|---|---|---|---|---|---|',
    row('kill', 'primary killed (SIGKILL postmaster + children)'),
    row('switchover', 'planned switchover (`atlas failover`)'),
  ].join('\n');
  return { markdown };
}
