import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTopology, parseTopology } from '@atlas/core';
import { atlas, exited, regionDbPort } from '../../../test/support/atlas-cli';
import { freePort } from '../../../test/support/free-port';

/** A real cluster started by the CLI (`atlas up`) in a temporary ATLAS_HOME on free ports. */
export { atlas, exited } from '../../../test/support/atlas-cli';

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
  for (const r of base.regions) regions.push({ ...r, apiPort: await freePort(), dbPort: await regionDbPort() });
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
