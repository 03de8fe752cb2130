import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTopology } from '@atlas/core';
import { atlas, exited as exitedWithin, regionDbPort } from '../../../test/support/atlas-cli';
import { freePort } from '../../../test/support/free-port';

async function topologyFile(dir: string, apiPorts?: number[]): Promise<string> {
  const base = loadTopology();
  const regions = await Promise.all(
    base.regions.map(async (r, i) => ({ ...r, apiPort: apiPorts?.[i] ?? (await freePort()), dbPort: await regionDbPort() })),
  );
  const file = join(dir, 'topology.json');
  await writeFile(file, JSON.stringify({ ...base, regions }));
  return file;
}

/** Bounded: a child still running after two minutes is killed (null). */
const exited = (child: Parameters<typeof exitedWithin>[0]) => exitedWithin(child, 120_000);

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('atlas up as a real process tree', { timeout: 240_000 }, () => {
  let home: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'atlas-smoke-'));
    await chmod(home, 0o755);
    env = { ATLAS_HOME: home, ATLAS_TOPOLOGY: await topologyFile(home), LOG_LEVEL: 'warn' };
  });
  afterAll(async () => {
    await exited(atlas(['down'], env));
    await rm(home, { recursive: true, force: true });
  });

  it('starts three regions, answers in each, and stops with nothing left behind', async () => {
    const topology = loadTopology(env.ATLAS_TOPOLOGY);
    const up = atlas(['up'], env);
    try {
      await until(() => up.output().includes('Atlas is up') || up.exitCode !== null, 150_000);
      expect(up.output(), up.output()).toContain('Atlas is up');
      expect(up.output()).toMatch(/\[1\/3\] eu-west-1: initialising/);

      for (const region of topology.regions) {
        const res = await fetch(`http://127.0.0.1:${region.apiPort}/api/regions/current`);
        expect(await res.json()).toMatchObject({ region: region.id, jurisdiction: region.jurisdiction });
        expect((await fetch(`http://127.0.0.1:${region.apiPort}/readyz`)).status).toBe(200);
      }
      const status = atlas(['status', '--json'], env);
      expect(await exited(status)).toBe(0);
      const report = JSON.parse(status.output());
      expect(report.regions.map((r: { id: string; ready: boolean }) => [r.id, r.ready])).toEqual(topology.regions.map((r) => [r.id, true]));

      const state = JSON.parse(await readFile(join(home, 'cluster.json'), 'utf8'));
      const apiPids: number[] = state.regions.map((r: { apiPid: number }) => r.apiPid);
      const pgPids = await Promise.all(
        topology.regions.map(async (r) => Number((await readFile(join(home, r.id, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0])),
      );
      expect([...apiPids, ...pgPids].every(alive)).toBe(true);

      up.kill('SIGTERM');
      expect(await exited(up)).toBe(0);
      expect(apiPids.filter(alive)).toEqual([]);
      await until(() => pgPids.every((p) => !alive(p)), 10_000);
      for (const r of topology.regions) expect(existsSync(join(home, r.id, 'pg', 'postmaster.pid'))).toBe(false);
      expect(existsSync(join(home, 'cluster.json'))).toBe(false);
    } finally {
      if (up.exitCode === null) up.kill('SIGKILL');
    }
  });

  it('reuses the data on a second start', async () => {
    const up = atlas(['up'], env);
    try {
      await until(() => up.output().includes('Atlas is up') || up.exitCode !== null, 150_000);
      expect(up.output(), up.output()).toContain('Atlas is up');
      expect(up.output()).not.toContain('initialising');
      expect(up.output()).toContain('database ready');
    } finally {
      up.kill('SIGTERM');
      expect(await exited(up)).toBe(0);
    }
  });
});

describe('atlas up refuses to start on bad ground', () => {
  let home: string;
  let blocker: Server;
  let busy: number;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'atlas-busy-'));
    await chmod(home, 0o755);
    busy = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(busy, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    blocker.close();
    await rm(home, { recursive: true, force: true });
  });

  it('names a busy port and starts nothing', async () => {
    const env = { ATLAS_HOME: home, ATLAS_TOPOLOGY: await topologyFile(home, [undefined as unknown as number, busy]) };
    const up = atlas(['up'], env);
    expect(await exited(up)).toBe(1);
    expect(up.output()).toContain(`port ${busy} (us-east-1 API) is already in use`);
    expect(existsSync(join(home, 'eu-west-1', 'pg'))).toBe(false);
  });

  it('names the bad field of an invalid topology', async () => {
    const file = join(home, 'bad-topology.json');
    const base = loadTopology();
    await writeFile(file, JSON.stringify({ ...base, regions: [{ ...base.regions[0], jurisdiction: 'MARS' }, ...base.regions.slice(1)] }));
    const up = atlas(['up'], { ATLAS_HOME: home, ATLAS_TOPOLOGY: file });
    expect(await exited(up)).toBe(1);
    expect(up.output()).toMatch(/invalid topology: \/regions\/0\/jurisdiction/);
  });

  it('rejects an unknown command with the usage text', async () => {
    const run = atlas(['upp'], { ATLAS_HOME: home });
    expect(await exited(run)).toBe(2);
    expect(run.output()).toContain("unknown command 'upp'");
    expect(run.output()).toContain('atlas up [--detach]');
  });
});
