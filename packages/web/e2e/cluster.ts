import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopology, parseTopology } from '@atlas/core';
import { FORWARDER_PORT_OFFSET, STANDBY_PORT_OFFSET } from '@atlas/db';
import { freePort } from '../../../test/support/free-port';

/** A real cluster started by the CLI (`atlas up`) in a temporary ATLAS_HOME on free ports. */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = join(ROOT, 'packages/cli/src/main.ts');

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** A database port whose standby and forwarder ports (fixed offsets) are free as well. */
async function dbPort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + FORWARDER_PORT_OFFSET <= 65535 && (await portFree(p + STANDBY_PORT_OFFSET)) && (await portFree(p + FORWARDER_PORT_OFFSET)))
      return p;
  }
}

export function atlas(args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { output: () => out });
}

export const exited = (child: ChildProcess, timeoutMs = 60_000): Promise<number | null> =>
  child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(null);
        }, timeoutMs);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });

export interface Cluster {
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  readonly edgeUrl: string;
  readonly up: ChildProcess & { output: () => string };
  stop(): Promise<void>;
}

/** Starts `atlas up` (which builds the web app if its output is stale) and waits until it is up. */
export async function startCluster(timeoutMs: number): Promise<Cluster> {
  const home = await mkdtemp(join(tmpdir(), 'atlas-e2e-'));
  await chmod(home, 0o755);
  const base = loadTopology();
  const regions = [];
  for (const r of base.regions) regions.push({ ...r, apiPort: await freePort(), dbPort: await dbPort() });
  // The local health settings (1 s checks): a killed region is noticed in about 3 s.
  const topology = parseTopology({ ...base, regions });
  const file = join(home, 'topology.json');
  await writeFile(file, JSON.stringify(topology));
  const edgePort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ATLAS_HOME: home,
    ATLAS_TOPOLOGY: file,
    ATLAS_EDGE_PORT: String(edgePort),
    ATLAS_ORCHESTRATOR_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  };
  const up = atlas(['up'], env);
  const stop = async () => {
    if (up.exitCode === null) {
      up.kill('SIGTERM');
      await exited(up, 60_000);
    }
    await rm(home, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!up.output().includes('Atlas is up')) {
    if (up.exitCode !== null || Date.now() > deadline) {
      const out = up.output();
      await stop();
      throw new Error(`atlas up did not come up:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!up.output().includes(`web app: http://127.0.0.1:${edgePort}/`)) {
    const out = up.output();
    await stop();
    throw new Error(`atlas up did not serve the web app:\n${out.slice(-4000)}`);
  }
  return { home, env, edgeUrl: `http://127.0.0.1:${edgePort}`, up, stop };
}
