import { chmod, chown, copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Directories whose contents a base backup omits; the directories themselves must exist. */
const EMPTIED_DIRS = new Set([
  'pg_wal',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]);

/** Top-level files a base backup omits (PostgreSQL docs, "Making a Base Backup Using the Low Level API"). */
const SKIPPED_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'backup_label.old',
  'tablespace_map',
  'tablespace_map.old',
  'standby.signal',
  'recovery.signal',
  'current_logfiles',
  'postgresql.auto.conf.tmp',
]);

function skipped(name: string, depth: number): boolean {
  if (name.startsWith('pgsql_tmp') || name === 'pg_internal.init') return true;
  return depth === 0 && SKIPPED_FILES.has(name);
}

const vanished = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

export interface CopyOwner {
  readonly uid: number;
  readonly gid: number;
}

export interface CopyReport {
  readonly files: number;
  readonly vanished: number;
}

/**
 * Copies a running cluster's data directory for an online base backup (between
 * pg_backup_start and pg_backup_stop). Files may change or vanish while we copy: WAL replay
 * from the backup's checkpoint repairs torn pages, and a vanished file was dropped.
 * The target is wiped first; everything is created 0700/0600, owned by `owner`.
 */
export async function copyDataDirectory(source: string, target: string, owner?: CopyOwner): Promise<CopyReport> {
  await rm(target, { recursive: true, force: true });
  let files = 0;
  let gone = 0;
  const own = async (path: string) => {
    if (owner) await chown(path, owner.uid, owner.gid);
  };
  const makeDir = async (path: string) => {
    await mkdir(path, { recursive: true, mode: 0o700 });
    await chmod(path, 0o700);
    await own(path);
  };

  const walk = async (from: string, to: string, depth: number): Promise<void> => {
    await makeDir(to);
    let entries;
    try {
      entries = await readdir(from, { withFileTypes: true });
    } catch (err) {
      if (vanished(err)) return;
      throw err;
    }
    const work: Promise<void>[] = [];
    for (const entry of entries) {
      if (skipped(entry.name, depth)) continue;
      const src = join(from, entry.name);
      const dst = join(to, entry.name);
      if (entry.isDirectory()) {
        if (depth === 0 && EMPTIED_DIRS.has(entry.name)) {
          await makeDir(dst);
          continue;
        }
        await walk(src, dst, depth + 1);
      } else if (entry.isFile()) {
        work.push(
          copyFile(src, dst).then(
            async () => {
              files += 1;
              await chmod(dst, 0o600);
              await own(dst);
            },
            (err: unknown) => {
              if (!vanished(err)) throw err;
              gone += 1;
            },
          ),
        );
        // Bounded parallelism: enough to hide latency, few enough file handles.
        if (work.length >= 32) await Promise.all(work.splice(0));
      }
    }
    await Promise.all(work);
  };

  await walk(source, target, 0);
  // Recovery writes WAL status files here; a base backup must provide the directories.
  await makeDir(join(target, 'pg_wal', 'archive_status'));
  await makeDir(join(target, 'pg_wal', 'summaries'));
  return { files, vanished: gone };
}
