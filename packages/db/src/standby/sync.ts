import type pg from 'pg';
import { quotedName } from './settings';
import { withFreshClient } from './probe';

const SQL_TIMEOUT_MS = 5_000;

async function reload(c: pg.Client): Promise<void> {
  await c.query('SELECT pg_reload_conf()');
}

/**
 * Makes `standbyName` the primary's synchronous standby, and the slot every logical failover
 * slot must wait for (so a subscriber never gets ahead of the standby that may be promoted).
 * Waits until pg_stat_replication reports it 'sync'.
 */
export async function resumeSync(primaryUrl: string, standbyName: string, timeoutMs = 15_000): Promise<{ readonly syncState: string }> {
  await withFreshClient(primaryUrl, SQL_TIMEOUT_MS, async (c) => {
    await c.query(`ALTER SYSTEM SET synchronous_standby_names = ${c.escapeLiteral(quotedName(standbyName))}`);
    await c.query(`ALTER SYSTEM SET synchronized_standby_slots = ${c.escapeLiteral(standbyName)}`);
    await reload(c);
  });
  const deadline = Date.now() + timeoutMs;
  let state = 'absent';
  while (Date.now() < deadline) {
    state = await withFreshClient(primaryUrl, SQL_TIMEOUT_MS, async (c) => {
      const { rows } = await c.query<{ sync_state: string }>('SELECT sync_state FROM pg_stat_replication WHERE application_name = $1', [standbyName]);
      return rows[0]?.sync_state ?? 'absent';
    }).catch(() => 'unreachable');
    if (state === 'sync') return { syncState: state };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${standbyName} did not become the synchronous standby in ${timeoutMs} ms (state: ${state})`);
}

/**
 * Drops to asynchronous commits: with the only synchronous standby down, every commit would
 * wait forever. Clearing the names and reloading releases waiting commits (about 20 ms
 * here); no transaction is involved, so this works while commits hang. Also clears
 * synchronized_standby_slots, or logical walsenders would wait for the missing standby.
 */
export async function suspendSync(primaryUrl: string): Promise<void> {
  await withFreshClient(primaryUrl, SQL_TIMEOUT_MS, async (c) => {
    await c.query("ALTER SYSTEM SET synchronous_standby_names = ''");
    await c.query('ALTER SYSTEM RESET synchronized_standby_slots');
    await reload(c);
  });
}

export interface SyncStatus {
  readonly synchronousStandbyNames: string;
  readonly standbys: ReadonlyArray<{ name: string; state: string; syncState: string; replayLagBytes: number | null }>;
}

export async function syncStatus(primaryUrl: string, timeoutMs = SQL_TIMEOUT_MS): Promise<SyncStatus> {
  return withFreshClient(primaryUrl, timeoutMs, async (c) => {
    const names = await c.query<{ v: string }>('SELECT current_setting($1) AS v', ['synchronous_standby_names']);
    const { rows } = await c.query<{ name: string; state: string; sync_state: string; lag: string | null }>(
      'SELECT application_name AS name, state, sync_state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag FROM pg_stat_replication ORDER BY 1',
    );
    return {
      synchronousStandbyNames: names.rows[0]?.v ?? '',
      standbys: rows.map((r) => ({ name: r.name, state: r.state, syncState: r.sync_state, replayLagBytes: r.lag === null ? null : Number(r.lag) })),
    };
  });
}
