import { describe, expect, it } from 'vitest';
import { loadTopology } from '@atlas/core';
import { type DeployClients, planDeploy, runDeploy } from '../deploy';

const topology = loadTopology();

interface FakeOptions {
  failPush?: string;
  failMigrate?: string;
  failDeploy?: string;
  /** Health answers per region, consumed in order; missing → healthy. */
  health?: Record<string, boolean[]>;
  failRollback?: boolean;
}

/** In-memory cloud: records every call and keeps each region's running image. */
function fakeCloud(opts: FakeOptions = {}) {
  const calls: string[] = [];
  const running = new Map(topology.regions.map((r) => [r.id, `${r.id}.ecr/atlas-api:0.9.0`]));
  let rollingBack = false;
  const clients: DeployClients = {
    images: { build: async ({ tag }) => (calls.push(`build ${tag}`), { localImage: `atlas-api:${tag}` }) },
    registry: {
      push: async (region, image, tag) => {
        calls.push(`push ${region} ${image}`);
        if (opts.failPush === region) throw new Error('denied');
        return { imageUri: `${region}.ecr/atlas-api:${tag}` };
      },
    },
    migrations: {
      migrate: async (region) => {
        calls.push(`migrate ${region}`);
        if (opts.failMigrate === region) throw new Error('migration 0007 failed');
        return { detail: 'task m-1 exited 0' };
      },
    },
    services: {
      currentImage: async (region) => running.get(region)!,
      deploy: async (region, image) => {
        calls.push(`deploy ${region} ${image}`);
        if (opts.failDeploy === region && !rollingBack) {
          rollingBack = true;
          throw new Error('service did not stabilise');
        }
        if (opts.failRollback && image.endsWith('0.9.0')) throw new Error('rollback refused');
        running.set(region, image);
      },
    },
    health: { check: async (region) => opts.health?.[region]?.shift() ?? true },
    sleep: async (ms) => void calls.push(`sleep ${ms}`),
  };
  return { clients, calls, running };
}

const statuses = (steps: readonly { id: string; status: string }[]) => Object.fromEntries(steps.map((s) => [s.id, s.status]));

describe('planDeploy', () => {
  it('builds once, pushes everywhere first, then migrates/updates/verifies region by region with the canary first', () => {
    const plan = planDeploy({ topology, tag: '1.0.0', canary: 'ap-southeast-1' });
    expect(plan.steps.map((s) => s.id)).toEqual([
      'build',
      'push:ap-southeast-1', 'push:eu-west-1', 'push:us-east-1',
      'migrate:ap-southeast-1', 'update:ap-southeast-1', 'verify:ap-southeast-1',
      'migrate:eu-west-1', 'update:eu-west-1', 'verify:eu-west-1',
      'migrate:us-east-1', 'update:us-east-1', 'verify:us-east-1',
    ]);
  });

  it.each([
    [{ tag: 'bad tag' }, /invalid image tag/],
    [{ tag: '1', regions: ['mars-1'] }, /unknown region mars-1/],
    [{ tag: '1', regions: ['eu-west-1', 'eu-west-1'] }, /listed twice/],
    [{ tag: '1', regions: ['eu-west-1'], canary: 'us-east-1' }, /canary us-east-1 is not among/],
  ])('refuses %j', (options, message) => {
    expect(() => planDeploy({ topology, ...options })).toThrow(message);
  });
});

describe('runDeploy', () => {
  it('--dry-run prints the plan, touches nothing, and reports every step not-run', async () => {
    const { clients, calls } = fakeCloud();
    const printed: string[] = [];
    const report = await runDeploy({ topology, tag: '1.0.0', dryRun: true, out: (l) => printed.push(l) }, clients);
    expect(calls).toEqual([]);
    expect(new Set(report.steps.map((s) => s.status))).toEqual(new Set(['not-run']));
    expect(printed.join('\n')).toContain('atlas deploy 1.0.0: eu-west-1 → us-east-1 → ap-southeast-1');
    expect(printed.join('\n')).toContain('13. verify ap-southeast-1 health');
  });

  it('deploys every region in order when all is well', async () => {
    const { clients, calls, running } = fakeCloud();
    const report = await runDeploy({ topology, tag: '1.0.0' }, clients);
    expect(report.ok).toBe(true);
    expect(report.deployed).toEqual(['eu-west-1', 'us-east-1', 'ap-southeast-1']);
    expect(new Set(report.steps.map((s) => s.status))).toEqual(new Set(['done']));
    expect([...running.values()]).toEqual(topology.regions.map((r) => `${r.id}.ecr/atlas-api:1.0.0`));
    expect(calls.filter((c) => c.startsWith('migrate') || c.startsWith('deploy'))).toEqual([
      'migrate eu-west-1', 'deploy eu-west-1 eu-west-1.ecr/atlas-api:1.0.0',
      'migrate us-east-1', 'deploy us-east-1 us-east-1.ecr/atlas-api:1.0.0',
      'migrate ap-southeast-1', 'deploy ap-southeast-1 ap-southeast-1.ecr/atlas-api:1.0.0',
    ]);
  });

  it('a failed push stops before any region changes', async () => {
    const { clients, running } = fakeCloud({ failPush: 'us-east-1' });
    const report = await runDeploy({ topology, tag: '1.0.0' }, clients);
    expect(report.ok).toBe(false);
    expect(statuses(report.steps)).toMatchObject({ 'push:eu-west-1': 'done', 'push:us-east-1': 'failed', 'push:ap-southeast-1': 'not-run', 'migrate:eu-west-1': 'not-run' });
    expect(report.steps.find((s) => s.id === 'push:us-east-1')?.detail).toBe('denied');
    expect([...running.values()].every((img) => img.endsWith('0.9.0'))).toBe(true);
  });

  it('rolls back the region that fails verification, keeps earlier regions, and does not run later ones', async () => {
    const { clients, running } = fakeCloud({ health: { 'us-east-1': Array(5).fill(false) } });
    const report = await runDeploy({ topology, tag: '1.0.0', verifyAttempts: 5, verifyIntervalMs: 10 }, clients);
    expect(report.ok).toBe(false);
    expect(report.deployed).toEqual(['eu-west-1']);
    expect(report.rolledBack).toEqual(['us-east-1']);
    expect(statuses(report.steps)).toMatchObject({ 'verify:eu-west-1': 'done', 'verify:us-east-1': 'failed', 'rollback:us-east-1': 'done', 'migrate:ap-southeast-1': 'not-run', 'update:ap-southeast-1': 'not-run' });
    expect(running.get('us-east-1')).toBe('us-east-1.ecr/atlas-api:0.9.0');
    expect(running.get('eu-west-1')).toBe('eu-west-1.ecr/atlas-api:1.0.0');
  });

  it('rolls back a region whose service update fails', async () => {
    const { clients, running } = fakeCloud({ failDeploy: 'eu-west-1' });
    const report = await runDeploy({ topology, tag: '1.0.0' }, clients);
    expect(statuses(report.steps)).toMatchObject({ 'update:eu-west-1': 'failed', 'rollback:eu-west-1': 'done', 'verify:eu-west-1': 'not-run' });
    expect(running.get('eu-west-1')).toBe('eu-west-1.ecr/atlas-api:0.9.0');
  });

  it('reports a failed rollback instead of throwing', async () => {
    const { clients } = fakeCloud({ health: { 'eu-west-1': Array(3).fill(false) }, failRollback: true });
    const report = await runDeploy({ topology, tag: '1.0.0', verifyAttempts: 3 }, clients);
    expect(statuses(report.steps)).toMatchObject({ 'verify:eu-west-1': 'failed', 'rollback:eu-west-1': 'failed' });
    expect(report.rolledBack).toEqual([]);
  });

  it('needs the topology upAfter healthy checks in a row: a flap resets the count', async () => {
    // upAfter = 2: ok, fail, ok, ok → healthy on the 4th check.
    const { clients, calls } = fakeCloud({ health: { 'eu-west-1': [true, false, true, true] } });
    const report = await runDeploy({ topology, tag: '1.0.0', regions: ['eu-west-1'], verifyIntervalMs: 7 }, clients);
    expect(report.steps.find((s) => s.id === 'verify:eu-west-1')?.detail).toBe('2 healthy checks after 4 attempts');
    expect(calls.filter((c) => c === 'sleep 7')).toHaveLength(3);
  });

  it('a failed migration stops that region before its service changes', async () => {
    const { clients, calls } = fakeCloud({ failMigrate: 'eu-west-1' });
    const report = await runDeploy({ topology, tag: '1.0.0' }, clients);
    expect(statuses(report.steps)).toMatchObject({ 'migrate:eu-west-1': 'failed', 'update:eu-west-1': 'not-run' });
    expect(calls.some((c) => c.startsWith('deploy'))).toBe(false);
  });
});

describe('the orchestrator step', () => {
  it('comes last, after every region is verified, and only when asked for', () => {
    expect(planDeploy({ topology, tag: '1.0.0' }).steps.some((s) => s.kind === 'orchestrator')).toBe(false);
    expect(planDeploy({ topology, tag: '1.0.0', orchestratorCheck: true }).steps.at(-1)!.id).toBe('orchestrator');
  });

  it('fails the release without rolling anything back when the orchestrator sees a region unhealthy', async () => {
    const { clients, calls } = fakeCloud();
    const report = await runDeploy({ topology, tag: '1.0.0', orchestratorCheck: true }, { ...clients, orchestrator: { tick: async () => ({ 'eu-west-1': 'healthy', 'us-east-1': 'suspect' }) } });
    expect(report.ok).toBe(false);
    expect(report.steps.at(-1)).toMatchObject({ id: 'orchestrator', status: 'failed', detail: 'the orchestrator sees us-east-1 suspect, ap-southeast-1 unwatched' });
    expect(report.deployed).toHaveLength(3);
    expect(report.rolledBack).toEqual([]);
    expect(calls.filter((c) => c.startsWith('deploy'))).toHaveLength(3);
  });

  it('fails clearly when no orchestrator client is wired', async () => {
    const { clients } = fakeCloud();
    const report = await runDeploy({ topology, tag: '1.0.0', orchestratorCheck: true }, clients);
    expect(report.steps.at(-1)).toMatchObject({ status: 'failed', detail: 'no orchestrator client' });
  });
});
