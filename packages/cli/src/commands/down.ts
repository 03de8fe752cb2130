import { join } from 'node:path';
import type { Topology } from '@atlas/core';
import { PgNode, loadOrCreateSecrets, regionDir } from '@atlas/db';
import { waitFor } from '../processes';
import { clearState, isAlive, readState } from '../state';

/**
 * `atlas down`: asks the supervisor to stop (it stops APIs and databases in order); if it
 * is gone or stuck, stops whatever it left running itself.
 */
export async function down(options: { home: string; topology: Topology; log: (line: string) => void }): Promise<void> {
  const { home, topology, log } = options;
  const state = await readState(home);
  if (state && isAlive(state.supervisorPid)) {
    log(`stopping Atlas (pid ${state.supervisorPid})…`);
    process.kill(state.supervisorPid, 'SIGTERM');
    if (!(await waitFor(async () => !isAlive(state.supervisorPid), 30_000, 200))) {
      log('the supervisor did not stop in 30 s: killing it');
      process.kill(state.supervisorPid, 'SIGKILL');
    }
  }
  for (const region of state?.regions ?? []) {
    if (isAlive(region.apiPid)) process.kill(region.apiPid!, 'SIGKILL');
  }
  const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
  let stopped = 0;
  for (const region of topology.regions) {
    const node = new PgNode({ dataDir: join(regionDir(home, region.id), 'pg'), port: region.dbPort, superuserPassword: secrets.superuserPassword });
    if (await node.isRunning()) {
      await node.stop('fast');
      stopped += 1;
    }
  }
  await clearState(home);
  log(state || stopped > 0 ? 'Atlas is down.' : 'Atlas was not running.');
}
