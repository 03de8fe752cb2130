import { chown, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { osUser } from '../os-user';
import { PgNode } from '../pg-node';
import { copyDataDirectory } from './copy-data-dir';
import { fenceServer } from './fence';
import { nodeUrl, withFreshClient } from './probe';
import { conninfo, standbyName, stripAutoConfFile } from './settings';
import { runSteps, type StepsReport } from './steps';
import { resumeSync } from './sync';

/** Where a PostgreSQL server of a region lives. */
export interface NodeLocation {
  readonly dataDir: string;
  readonly port: number;
}

export interface CreateStandbyOptions {
  readonly region: string;
  /** The running primary to clone. */
  readonly primary: NodeLocation;
  /** Where to build the standby; wiped first. */
  readonly standby: NodeLocation;
  readonly superuserPassword: string;
  /** Make it the primary's synchronous standby (default true: no acknowledged write lost). */
  readonly synchronous?: boolean;
  /** How long to force-sync logical failover slots before reporting them pending. */
  readonly slotSyncTimeoutMs?: number;
}

export interface StandbyReport extends StepsReport {
  readonly name: string;
  readonly node: PgNode;
}

/**
 * The standby's own settings (atlas.conf, rewritten at every start). The slot-sync worker
 * starts off: pg_sync_replication_slots() refuses to run beside it, and the idle worker's
 * first sync can take ~30 s, so we force the first sync, then turn the worker on.
 */
export function standbySettings(options: { region: string; primaryPort: number; superuserPassword: string; syncWorker: boolean }): Record<string, string | number | boolean> {
  const name = standbyName(options.region);
  return {
    primary_conninfo: conninfo({
      host: '127.0.0.1',
      port: options.primaryPort,
      user: 'postgres',
      password: options.superuserPassword,
      // dbname is what the slot-sync worker connects to; application_name is what
      // synchronous_standby_names matches.
      dbname: 'atlas',
      application_name: name,
    }),
    primary_slot_name: name,
    hot_standby: true,
    hot_standby_feedback: true,
    sync_replication_slots: options.syncWorker,
  };
}

export function standbyNode(options: { region: string; location: NodeLocation; primaryPort: number; superuserPassword: string; syncWorker?: boolean }): PgNode {
  return new PgNode({
    dataDir: options.location.dataDir,
    port: options.location.port,
    superuserPassword: options.superuserPassword,
    settings: standbySettings({ ...options, syncWorker: options.syncWorker ?? true }),
  });
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not reached in ${timeoutMs} ms${last ? ` (${last})` : ''}`);
}

/**
 * Builds a hot standby of a running primary without pg_basebackup: physical slot, online
 * base backup through the low-level API in a session kept open, a filtered copy of the data
 * directory, then standby.signal and fresh settings. Starts it, waits for streaming, forces
 * the first logical slot sync, and (by default) makes it synchronous.
 */
export async function createStandby(options: CreateStandbyOptions): Promise<StandbyReport> {
  const name = standbyName(options.region);
  const primaryUrl = nodeUrl(options.primary.port, options.superuserPassword);
  const standbyUrl = nodeUrl(options.standby.port, options.superuserPassword);
  if (resolve(options.primary.dataDir) === resolve(options.standby.dataDir)) {
    throw new Error(`refusing to build a standby over its own primary (${options.primary.dataDir})`);
  }
  const node = standbyNode({ region: options.region, location: options.standby, primaryPort: options.primary.port, superuserPassword: options.superuserPassword, syncWorker: false });
  let session: pg.Client | undefined;
  let failoverSlots: string[] = [];

  const report = await runSteps([
    {
      name: 'slot',
      run: () =>
        withFreshClient(primaryUrl, 10_000, async (c) => {
          // A previous standby's slot: end its walsender, drop it, start clean.
          await c.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL', [name]);
          await until('old slot released', 5_000, async () => {
            const { rows } = await c.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [name]);
            return rows[0]?.active ? undefined : true;
          });
          await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [name]);
          const { rows } = await c.query<{ lsn: string }>('SELECT lsn FROM pg_create_physical_replication_slot($1, true)', [name]);
          const slots = await c.query<{ slot_name: string }>("SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'logical' AND failover ORDER BY 1");
          failoverSlots = slots.rows.map((r) => r.slot_name);
          return { slot: name, reservedLsn: rows[0]?.lsn, failoverSlots };
        }),
    },
    {
      name: 'backup-start',
      run: async () => {
        session = new pg.Client({ connectionString: primaryUrl, application_name: `${name}_backup` });
        session.on('error', () => undefined);
        await session.connect();
        const { rows } = await session.query<{ lsn: string }>('SELECT pg_backup_start($1, true) AS lsn', [`atlas ${name} ${new Date().toISOString()}`]);
        return { startLsn: rows[0]?.lsn };
      },
    },
    {
      name: 'copy',
      run: async () => {
        const user = await osUser();
        const started = Date.now();
        const copied = await copyDataDirectory(options.primary.dataDir, options.standby.dataDir, user.isRoot ? user : undefined);
        return { ...copied, ms: Date.now() - started };
      },
    },
    {
      name: 'backup-stop',
      run: async () => {
        const { rows } = await session!.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>('SELECT lsn, labelfile, spcmapfile FROM pg_backup_stop(false)');
        const row = rows[0]!;
        await writeFile(join(options.standby.dataDir, 'backup_label'), row.labelfile, { mode: 0o600 });
        if (row.spcmapfile) await writeFile(join(options.standby.dataDir, 'tablespace_map'), row.spcmapfile, { mode: 0o600 });
        await session!.end();
        session = undefined;
        return { stopLsn: row.lsn };
      },
    },
    {
      name: 'configure',
      run: async () => {
        const dir = options.standby.dataDir;
        await stripAutoConfFile(dir);
        await writeFile(join(dir, 'standby.signal'), '', { mode: 0o600 });
        await rm(`${dir}.log`, { force: true });
        const user = await osUser();
        if (user.isRoot) {
          for (const f of ['backup_label', 'tablespace_map', 'standby.signal', 'postgresql.auto.conf']) {
            await chown(join(dir, f), user.uid, user.gid).catch(() => undefined);
          }
        }
        return { settings: Object.keys(standbySettings({ ...options, primaryPort: options.primary.port, syncWorker: false })) };
      },
    },
    {
      // pg_ctl -w returns once a hot standby accepts read-only connections.
      name: 'start',
      run: async () => {
        await node.start();
        const inRecovery = await withFreshClient(standbyUrl, 5_000, async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r);
        if (inRecovery !== true) throw new Error('the new node is not in recovery');
        return { port: options.standby.port };
      },
    },
    {
      name: 'streaming',
      run: () =>
        until('standby streaming', 30_000, () =>
          withFreshClient(primaryUrl, 2_000, async (c) => {
            const { rows } = await c.query<{ state: string }>('SELECT state FROM pg_stat_replication WHERE application_name = $1', [name]);
            return rows[0]?.state === 'streaming' ? { state: 'streaming' } : undefined;
          }),
        ),
    },
    {
      name: 'slot-sync',
      run: async () => {
        const pending = await forceSlotSync(standbyUrl, failoverSlots, options.slotSyncTimeoutMs ?? 10_000);
        await node.writeSettings({ sync_replication_slots: true });
        await withFreshClient(standbyUrl, 5_000, (c) => c.query('SELECT pg_reload_conf()'));
        // Pending slots are reported, not fatal: a zero-loss physical standby matters more
        // than a logical slot whose subscriber is away (it syncs once the subscriber moves).
        return { synced: failoverSlots.filter((s) => !pending.includes(s)), pending };
      },
    },
    {
      name: 'synchronous',
      run: async () => {
        if (options.synchronous === false) return { skipped: 'asynchronous standby requested' };
        return resumeSync(primaryUrl, name);
      },
    },
  ]);
  if (session) await session.end().catch(() => undefined);
  return { ...report, name, node };
}

/** Calls pg_sync_replication_slots() until every named slot is `synced AND NOT temporary`; returns those still pending. */
async function forceSlotSync(standbyUrl: string, slots: readonly string[], timeoutMs: number): Promise<string[]> {
  if (slots.length === 0) return [];
  const deadline = Date.now() + timeoutMs;
  let pending = [...slots];
  while (Date.now() < deadline) {
    pending = await withFreshClient(standbyUrl, 5_000, async (c) => {
      await c.query('SELECT pg_sync_replication_slots()').catch(() => undefined);
      const { rows } = await c.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots WHERE synced AND NOT temporary');
      const ready = new Set(rows.map((r) => r.slot_name));
      return slots.filter((s) => !ready.has(s));
    }).catch(() => pending);
    if (pending.length === 0) return [];
    await new Promise((r) => setTimeout(r, 200));
  }
  return pending;
}

/**
 * Promotes a standby (pg_promote waits for the end of recovery) and clears the settings a
 * new primary must not inherit: without a standby of its own, synchronous_standby_names
 * would hang its commits and synchronized_standby_slots would stall its subscribers.
 */
export async function promoteStandby(options: { standby: NodeLocation; superuserPassword: string; timeoutMs?: number }): Promise<{ readonly elapsedMs: number }> {
  const started = Date.now();
  const url = nodeUrl(options.standby.port, options.superuserPassword);
  const timeoutS = Math.ceil((options.timeoutMs ?? 30_000) / 1000);
  await withFreshClient(url, (timeoutS + 5) * 1000, async (c) => {
    const { rows } = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    if (rows[0]?.r) {
      const promoted = await c.query<{ ok: boolean }>('SELECT pg_promote(true, $1) AS ok', [timeoutS]);
      if (!promoted.rows[0]?.ok) throw new Error(`pg_promote did not finish in ${timeoutS} s`);
    }
    await c.query("ALTER SYSTEM SET synchronous_standby_names = ''");
    await c.query('ALTER SYSTEM RESET synchronized_standby_slots');
    await c.query('SELECT pg_reload_conf()');
  });
  return { elapsedMs: Date.now() - started };
}

/**
 * Waits until the standby has replayed `lsn` (a planned switchover's last primary LSN);
 * `past`: strictly beyond it (the record starting at `lsn` replayed too).
 */
export async function waitForReplay(standbyUrl: string, lsn: string, timeoutMs = 10_000, past = false): Promise<void> {
  const op = past ? '>' : '>=';
  await until(`replay of ${lsn}`, timeoutMs, () =>
    withFreshClient(standbyUrl, 2_000, async (c) => {
      const { rows } = await c.query<{ ok: boolean }>(`SELECT pg_last_wal_replay_lsn() ${op} $1::pg_lsn AS ok`, [lsn]);
      return rows[0]?.ok ? true : undefined;
    }),
  );
}

/**
 * Wipes `standby` (fencing anything still running there: an old primary, a broken standby)
 * and clones it afresh from the current primary. Never reuses the old directory's data: an
 * old primary may hold diverged changes and would come up "fine" serving them.
 */
export async function rebuildStandby(options: CreateStandbyOptions): Promise<StandbyReport> {
  await fenceServer(options.standby.dataDir);
  await rm(options.standby.dataDir, { recursive: true, force: true });
  return createStandby(options);
}
