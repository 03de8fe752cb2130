import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Name of the file that says which test process owns a temporary cluster home. */
const OWNER_FILE = 'owner.pid';
/** A home without an owner file (older runs) counts as stale once it is this old. */
const ORPHAN_AGE_MS = 3 * 60 * 60 * 1000;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Marks `home` as owned by this process, so a later run can tell whether it was abandoned. */
export async function claimHome(home: string): Promise<void> {
  await writeFile(join(home, OWNER_FILE), `${process.pid}\n`);
}

async function postmasterPids(dir: string, depth: number): Promise<number[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: number[] = [];
  for (const entry of entries) {
    if (entry.isFile() && entry.name === 'postmaster.pid') {
      const pid = Number.parseInt((await readFile(join(dir, entry.name), 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
      if (Number.isInteger(pid) && pid > 0) found.push(pid);
    } else if (entry.isDirectory() && depth > 0) {
      found.push(...(await postmasterPids(join(dir, entry.name), depth - 1)));
    }
  }
  return found;
}

/**
 * Stops the PostgreSQL servers of test runs that were killed before their teardown ran
 * (a killed vitest never reaches globalSetup's teardown) and removes their homes. Only
 * homes named `<prefix>*` under the temporary directory whose owner process is gone.
 * Returns how many homes were reaped.
 */
export async function reapStaleClusters(prefix: string): Promise<number> {
  const root = tmpdir();
  const names = (await readdir(root).catch(() => [])).filter((n) => n.startsWith(prefix));
  let reaped = 0;
  for (const name of names) {
    const home = join(root, name);
    const owner = Number.parseInt(await readFile(join(home, OWNER_FILE), 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner)) {
      if (alive(owner)) continue;
    } else {
      const info = await stat(home).catch(() => undefined);
      if (!info || Date.now() - info.mtimeMs < ORPHAN_AGE_MS) continue;
    }
    // SIGQUIT is PostgreSQL's immediate shutdown: the data is thrown away anyway.
    for (const pid of await postmasterPids(home, 4)) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
    await rm(home, { recursive: true, force: true });
    reaped += 1;
  }
  return reaped;
}
