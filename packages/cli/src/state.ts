import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What a running `atlas up` leaves in ATLAS_HOME for `atlas down` and `atlas status`. */
export interface ClusterState {
  readonly supervisorPid: number;
  readonly startedAt: string;
  readonly ready: boolean;
  readonly regions: ReadonlyArray<{ id: string; apiUrl: string; apiPid: number | null; dbPort: number; dbPid: number | null }>;
}

const file = (home: string) => join(home, 'cluster.json');

export async function readState(home: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(file(home), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

export async function writeState(home: string, state: ClusterState): Promise<void> {
  await writeFile(file(home), `${JSON.stringify(state, null, 2)}\n`);
}

export async function clearState(home: string): Promise<void> {
  await rm(file(home), { force: true });
}

export function isAlive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
