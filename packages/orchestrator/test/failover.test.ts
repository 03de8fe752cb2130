import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fenceServer, processAlive, syncStatus, standbyName } from '@atlas/db';
import { callControl, type ChaosResult, type OrchestratorStatus, type RegionRunner } from '../src/index';
import { missingIds, sleep, startOneRegion, startWriter, until, withClient, type OneRegionCluster } from './support';

const REGION = 'eu-west-1';
let cluster: OneRegionCluster;
let runner: RegionRunner;
let nextId = 1;
/** Writers use their own id ranges, far from the single ids above. */
let nextRange = 0;
const range = () => (nextRange += 1_000_000);

const phasesSince = (from: number) => runner.history.filter((h) => h.at >= from).map((h) => h.to);

async function healthy(timeoutMs = 40_000): Promise<void> {
  const ok = await cluster.orchestrator.waitForPhase(REGION, 'healthy', timeoutMs);
  expect(ok, `region stuck in ${runner.state.phase}: ${runner.state.lastError ?? ''}`).toBe(true);
}

/** The orchestrator has promoted the standby and moved on from the node on `oldPort`. */
const promotedAway = (oldPort: number) => runner.location('primary').port !== oldPort && (runner.state.phase === 'recovering' || runner.state.phase === 'healthy');

async function postmasterPid(): Promise<number> {
  const text = await import('node:fs/promises').then((fs) => fs.readFile(`${runner.location('primary').dataDir}/postmaster.pid`, 'utf8'));
  return Number(text.split('\n')[0]);
}

describe('failover orchestrator against real PostgreSQL 18 nodes', () => {
  beforeAll(async () => {
    cluster = await startOneRegion(REGION);
    runner = cluster.orchestrator.runners.get(REGION)!;
    await healthy();
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('starts with a synchronous hot standby: zero-loss promise kept', async () => {
    const sync = await syncStatus(cluster.primaryUrl());
    expect(sync.synchronousStandbyNames).toBe(`"${standbyName(REGION)}"`);
    expect(sync.standbys).toEqual([expect.objectContaining({ name: standbyName(REGION), state: 'streaming', syncState: 'sync' })]);
    const status = await callControl<OrchestratorStatus>(cluster.orchestrator.controlUrl!, 'GET', '/status');
    expect(status.body.regions[0]).toMatchObject({ region: REGION, phase: 'healthy', zeroLoss: 'kept', standby: 'streaming', forwarder: { port: cluster.ports.forwarder, mode: 'forward' } });
  });

  it('intermittent slowness below the thresholds never fails over', async () => {
    const from = Date.now();
    const primaryBefore = runner.location('primary').port;
    const pid = await postmasterPid();
    // Freezes long enough to fail a probe (1 s timeout), never long enough for three in a row.
    for (let i = 0; i < 3; i += 1) {
      process.kill(pid, 'SIGSTOP');
      await sleep(1_300);
      process.kill(pid, 'SIGCONT');
      await sleep(1_500);
    }
    const phases = phasesSince(from);
    expect(phases).toContain('suspect'); // the slowness was seen…
    expect(phases.every((p) => p === 'suspect' || p === 'healthy')).toBe(true); // …and tolerated
    expect(runner.location('primary').port).toBe(primaryBefore);
    await healthy(5_000);
  });

  it('standby down: commits would hang, so sync is suspended (and said so), the standby rebuilt, sync resumed', async () => {
    const from = Date.now();
    const standbyDir = runner.location('standby').dataDir;
    await fenceServer(standbyDir);
    // This commit waits for the dead synchronous standby until the orchestrator suspends sync.
    const id = nextId++;
    const committed = withClient(cluster.appUrl, (c) => c.query('INSERT INTO failover_probe (id) VALUES ($1)', [id]));
    expect(await until(() => runner.state.phase === 'standby-lost', 10_000)).toBe(true);
    const during = cluster.orchestrator.status().regions[0]!;
    expect(during.zeroLoss).toBe('suspended');
    expect(during.message).toMatch(/zero-loss promise suspended/);
    await committed; // released by the suspension, no client-side timeout involved
    expect(runner.notifications.map((n) => n.notification)).toContain('zero-loss-suspended');
    await healthy();
    // The rebuild's copy can slow the primary's probes on a busy machine (suspect), never more.
    expect(phasesSince(from)[0]).toBe('standby-lost');
    expect(phasesSince(from).every((p) => ['standby-lost', 'suspect', 'healthy'].includes(p))).toBe(true);
    const sync = await syncStatus(cluster.primaryUrl());
    expect(sync.synchronousStandbyNames).toBe(`"${standbyName(REGION)}"`);
    expect(sync.standbys[0]?.syncState).toBe('sync');
    expect(cluster.orchestrator.status().regions[0]!.zeroLoss).toBe('kept');
    expect(await missingIds(cluster.primaryUrl(), [id])).toEqual([]);
  });

  it('kill -9 of the primary during steady writes: no acknowledged write lost; RTO measured', async () => {
    const oldPrimary = runner.location('primary');
    const writer = startWriter(cluster.appUrl, { everyMs: 10, startId: range() });
    expect(await until(() => writer.count >= 100, 10_000)).toBe(true);
    // Through the control port, as `atlas chaos kill-db` does.
    const killed = await callControl<ChaosResult>(cluster.orchestrator.controlUrl!, 'POST', `/chaos/kill-db/${REGION}`);
    const killedAt = Date.now();
    expect(killed.status).toBe(200);
    expect((killed.body.detail.killed as number[]).length).toBeGreaterThan(1);
    expect(await until(() => promotedAway(oldPrimary.port), 20_000)).toBe(true);
    const before = writer.count;
    expect(await until(() => writer.count >= before + 100, 15_000)).toBe(true);
    const report = await writer.stop();
    console.log(`[failover] kill -9: writes interrupted ${report.longestGapAfter(killedAt)} ms; first acknowledged write on the promoted node ${(report.firstAckAfter(killedAt) ?? NaN) - killedAt} ms after the kill (${report.acknowledged.length} acknowledged, ${report.failed} failed attempts)`);
    expect(runner.location('primary').port).not.toBe(oldPrimary.port);
    expect(await missingIds(cluster.primaryUrl(), report.acknowledged)).toEqual([]);
    // The steps, with their times, in failover_event on the promoted node.
    const failoverId = runner.lastFailover!.failoverId;
    await until(async () => (await stepsOf(failoverId)).includes('repair-global-tables:done'), 10_000);
    const steps = await stepsOf(failoverId);
    expect(steps).toEqual(expect.arrayContaining(['detect:done', 'fence:done', 'promote:done', 'repoint-api:done', 'restore-replication:done', 'repair-global-tables:done']));
    expect(cluster.calls.restore.at(-1)).toEqual([REGION, cluster.primaryUrl()]);
    expect(cluster.calls.repair).toContain(REGION);
    expect(await until(() => cluster.webhook.received.some((n) => n.notification === 'failed-over'), 5_000)).toBe(true);
    const metrics = await fetch(`${cluster.orchestrator.controlUrl!}/metrics`).then((r) => r.text());
    expect(metrics).toContain(`atlas_failovers_total{region="${REGION}"} 1`);
    expect(metrics).toMatch(new RegExp(`atlas_failover_phase\\{region="${REGION}",phase="(recovering|healthy)"\\} 1`));
    await healthy();
  });

  it('a frozen old primary (SIGSTOP) is fenced: after promotion and SIGCONT it accepts no write', async () => {
    const old = runner.location('primary');
    const pid = await postmasterPid();
    // A connection opened before the freeze: fresh-connection probes are not fooled by it.
    const kept = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(cluster.secrets.superuserPassword)}@127.0.0.1:${old.port}/atlas`, query_timeout: 3_000 });
    kept.on('error', () => undefined);
    await kept.connect();
    process.kill(pid, 'SIGSTOP');
    expect(await until(() => promotedAway(old.port), 20_000)).toBe(true);
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone: the fence killed it
    }
    await sleep(200);
    expect(await processAlive(pid)).toBe(false);
    const id = nextId++;
    // Even with synchronous_commit = local (which gets through an unfenced frozen node), nothing lands.
    await expect(kept.query("SET synchronous_commit = 'local'").then(() => kept.query('INSERT INTO failover_probe (id) VALUES ($1)', [id]))).rejects.toThrow();
    await expect(withClient(`postgres://postgres:${encodeURIComponent(cluster.secrets.superuserPassword)}@127.0.0.1:${old.port}/atlas`, (c) => c.query('SELECT 1'))).rejects.toThrow();
    await kept.end().catch(() => undefined);
    expect(await missingIds(cluster.primaryUrl(), [id])).toEqual([id]);
    await healthy();
  });

  it('a planned switchover loses nothing and makes the old primary the new standby', async () => {
    const old = runner.location('primary');
    const writer = startWriter(cluster.appUrl, { everyMs: 10, startId: range() });
    expect(await until(() => writer.count >= 50, 10_000)).toBe(true);
    const result = await cluster.orchestrator.plannedSwitchover(REGION);
    expect(result.ok, result.message).toBe(true);
    const before = writer.count;
    expect(await until(() => writer.count >= before + 50, 10_000)).toBe(true);
    const report = await writer.stop();
    console.log(`[failover] planned switchover: writes held ${(result.releasedAt ?? NaN) - (result.heldAt ?? NaN)} ms`);
    expect(runner.location('primary').port).not.toBe(old.port);
    expect(await missingIds(cluster.primaryUrl(), report.acknowledged)).toEqual([]);
    await healthy();
    expect(runner.location('standby')).toEqual(old);
    expect((await syncStatus(cluster.primaryUrl())).standbys[0]?.syncState).toBe('sync');
  });

  it('two restarts of a killed primary asked at once (the state machine and `chaos revive`) start it once, both succeed', async () => {
    await healthy();
    const before = await postmasterPid();
    // The region's host is down for the drill, so the state machine itself restarts nothing.
    await cluster.orchestrator.killRegion(REGION);
    expect(await runner.isPrimaryRunning()).toBe(false);
    const results = await Promise.allSettled([runner.restartPrimary(), runner.restartPrimary()]);
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(['fulfilled', 'fulfilled']);
    const after = await postmasterPid();
    expect(after).not.toBe(before);
    expect(await processAlive(after)).toBe(true);
    await withClient(cluster.primaryUrl(), (c) => c.query('SELECT 1'));
    const revived = await cluster.orchestrator.revive(REGION);
    expect(revived.detail).toMatchObject({ primaryRestarted: false });
    await healthy(90_000);
  }, 120_000);
});

async function stepsOf(failoverId: string): Promise<string[]> {
  return withClient(cluster.primaryUrl(), async (c) => {
    const { rows } = await c.query<{ step: string; status: string; finished: boolean }>(
      'SELECT step, status, finished_at IS NOT NULL AND finished_at >= started_at AS finished FROM failover_event WHERE failover_id = $1 ORDER BY id',
      [failoverId],
    );
    return rows.filter((r) => r.finished).map((r) => `${r.step}:${r.status}`);
  });
}
