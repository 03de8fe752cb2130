import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimHome, reapStaleClusters } from './stale-clusters';

const PREFIX = `atlas-reaper-${process.pid}-`;
const children: number[] = [];

afterEach(async () => {
  for (const pid of children.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** A stand-in "postmaster": a long sleep whose pid is written where PostgreSQL writes its own. */
async function fakeServer(home: string, region: string): Promise<{ pid: number; exit: Promise<NodeJS.Signals | null> }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const pid = child.pid!;
  children.push(pid);
  const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await mkdir(join(home, region, 'pg'), { recursive: true });
  await writeFile(join(home, region, 'pg', 'postmaster.pid'), `${pid}\n/some/data\n`);
  return { pid, exit };
}

describe('reapStaleClusters', () => {
  it('stops the servers of a home whose owner process is gone and removes the home, leaving a live owner\'s home alone', async () => {
    const abandoned = await mkdtemp(join(tmpdir(), PREFIX));
    const owned = await mkdtemp(join(tmpdir(), PREFIX));
    try {
      // an owner pid that cannot be alive: a child that has already exited
      const dead = spawn('true');
      await new Promise((r) => dead.on('exit', r));
      await writeFile(join(abandoned, 'owner.pid'), `${dead.pid}\n`);
      const stale = await fakeServer(abandoned, 'eu-west-1');
      await claimHome(owned);
      const live = await fakeServer(owned, 'us-east-1');

      expect(await reapStaleClusters(PREFIX)).toBe(1);
      expect(existsSync(abandoned)).toBe(false);
      expect(existsSync(join(owned, 'us-east-1', 'pg', 'postmaster.pid'))).toBe(true);
      expect(() => process.kill(live.pid, 0)).not.toThrow();
      await expect(stale.exit).resolves.toBe('SIGQUIT');
    } finally {
      await rm(abandoned, { recursive: true, force: true });
      await rm(owned, { recursive: true, force: true });
    }
  });
});
