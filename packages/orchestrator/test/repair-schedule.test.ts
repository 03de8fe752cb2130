import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableSubscription, enableSubscription, setupMesh, subscriptionName, waitForReplication, type MeshNode } from '@atlas/db';
import { startFreshRegions, type FreshRegions } from '../../../test/support/fresh-regions';
import {
  DEFAULT_REPAIR_INTERVAL_MS,
  failoverInProgress,
  renderRepairMetrics,
  repairIntervalFromEnv,
  startRepairSchedule,
} from '../src/repair-schedule';

/** Two fresh regions with a full mesh: the pass runs against real databases. */
let fresh: FreshRegions;
let eu: MeshNode;
let us: MeshNode;

async function query<T extends pg.QueryResultRow>(node: MeshNode, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: node.adminUrl });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

const lostKeys = async (node: MeshNode): Promise<string[]> =>
  (await query<{ id: string }>(node, "SELECT id FROM referential WHERE kind = 'skipped' ORDER BY id")).map((r) => r.id);

beforeAll(async () => {
  fresh = await startFreshRegions(2, { prefix: 'atlas-repair-schedule-' });
  [eu, us] = fresh.nodes as [MeshNode, MeshNode];
  const mesh = await setupMesh([eu, us]);
  expect(mesh.ok).toBe(true);
});

afterAll(async () => {
  await fresh?.stop();
});

describe('scheduled anti-entropy pass', () => {
  it('restores a change replication skipped without anyone calling repair, waits while a failover is in progress, and counts', async () => {
    // A change replication skips for good: us-east-1 writes while eu-west-1's slot on it is
    // dropped and re-created (what a failover that loses a slot position does).
    const slot = subscriptionName('us-east-1', 'eu-west-1');
    await disableSubscription(eu.adminUrl, 'us-east-1');
    expect(
      await until(
        async () =>
          (await query<{ active: boolean }>(us, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]))[0]?.active ===
          false,
        10_000,
      ),
    ).toBe(true);
    await query(us, 'SELECT pg_drop_replication_slot($1)', [slot]);
    for (let i = 0; i < 5; i++)
      await query(us, "INSERT INTO referential (id, kind, code, label) VALUES ($1, 'skipped', $2, 'while dropped')", [
        `skipped:${i}`,
        String(i),
      ]);
    await query(us, "SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)", [slot]);
    await enableSubscription(eu.adminUrl, 'us-east-1');
    await waitForReplication([eu, us]);
    expect(await lostKeys(eu)).toEqual([]);

    const lines: string[] = [];
    let inFailover = true;
    const phases = [{ region: 'us-east-1', state: { phase: 'promoting' as const } }];
    const schedule = startRepairSchedule({
      intervalMs: 150,
      firstPassAfterMs: 0,
      nodes: () => [eu, us],
      skipReason: () => (inFailover ? failoverInProgress(phases) : undefined),
      log: (line) => lines.push(line),
    });
    try {
      // While the failover is in progress, passes are skipped (and say why); nothing is repaired.
      expect(await until(() => schedule.stats().skippedPasses >= 2, 10_000)).toBe(true);
      expect(schedule.stats()).toMatchObject({ passes: 0, rowsRepaired: 0 });
      expect(lines.some((l) => /skipped, failover in progress in us-east-1 \(promoting\)/.test(l))).toBe(true);
      expect(await lostKeys(eu)).toEqual([]);

      // Once it is over, the next scheduled pass restores the rows.
      inFailover = false;
      const keys = Array.from({ length: 5 }, (_, i) => `skipped:${i}`);
      expect(await until(async () => (await lostKeys(eu)).length === 5, 20_000)).toBe(true);
      expect(await lostKeys(eu)).toEqual(keys);
      expect(await until(() => schedule.stats().passes >= 2 && !schedule.stats().running, 20_000)).toBe(true);
      const stats = schedule.stats();
      expect(stats.rowsRepaired).toBe(5);
      expect(stats.failedPasses).toBe(0);
      // The pass after the repair found nothing more to do.
      expect(stats.lastPass).toMatchObject({ ok: true, rowsRepaired: 0, errors: [] });
      expect(lines.some((l) => /scheduled\): 5 rows repaired over 1 pairs .*referential eu-west-1\/us-east-1: 5 → eu-west-1/.test(l))).toBe(
        true,
      );

      const metrics = renderRepairMetrics(stats).join('\n');
      expect(metrics).toContain('atlas_repair_scheduled_rows_repaired_total 5');
      expect(metrics).toMatch(new RegExp(`atlas_repair_scheduled_passes_total ${stats.passes}\\b`));
      expect(metrics).toMatch(new RegExp(`atlas_repair_scheduled_skipped_passes_total ${stats.skippedPasses}\\b`));
    } finally {
      await schedule.stop();
    }
    // Stopped: no further pass runs.
    const after = schedule.stats().passes + schedule.stats().skippedPasses;
    await new Promise((r) => setTimeout(r, 400));
    expect(schedule.stats().passes + schedule.stats().skippedPasses).toBe(after);
  });

  it('counts a pass that cannot reach a region as failed and keeps its schedule', async () => {
    const unreachable = { region: 'ap-southeast-1', adminUrl: 'postgres://postgres:x@127.0.0.1:1/atlas' };
    const lines: string[] = [];
    const schedule = startRepairSchedule({
      intervalMs: 100,
      firstPassAfterMs: 0,
      nodes: () => [eu, unreachable],
      log: (l) => lines.push(l),
    });
    try {
      expect(await until(() => schedule.stats().failedPasses >= 2, 20_000)).toBe(true);
      expect(schedule.stats().lastPass).toMatchObject({ ok: false });
      expect(schedule.stats().lastPass!.errors[0]).toMatch(/^eu-west-1\/ap-southeast-1: /);
      expect(lines.some((l) => l.includes('FAILED pairs: eu-west-1/ap-southeast-1'))).toBe(true);
    } finally {
      await schedule.stop();
    }
  });

  it('takes its interval from ATLAS_REPAIR_INTERVAL_MS and refuses a nonsensical one', () => {
    expect(repairIntervalFromEnv({})).toBe(DEFAULT_REPAIR_INTERVAL_MS);
    expect(repairIntervalFromEnv({ ATLAS_REPAIR_INTERVAL_MS: '60000' })).toBe(60_000);
    for (const bad of ['0', '-5', 'soon', '1.5', '99'])
      expect(() => repairIntervalFromEnv({ ATLAS_REPAIR_INTERVAL_MS: bad })).toThrow(/ATLAS_REPAIR_INTERVAL_MS/);
    expect(
      failoverInProgress([
        { region: 'eu-west-1', state: { phase: 'recovering' } },
        { region: 'us-east-1', state: { phase: 'healthy' } },
      ]),
    ).toBeUndefined();
    expect(failoverInProgress([{ region: 'eu-west-1', state: { phase: 'switching-over' } }])).toMatch(/eu-west-1 \(switching-over\)/);
  });
});
