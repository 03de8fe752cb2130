import { spawn } from 'node:child_process';
import pg from 'pg';
import type { RegionApp } from '../../../test/support/regions';
import { freePort } from '../../../test/support/free-port';

/**
 * Waits until every cache stream of the database has handled every change committed before
 * now. A transactional logical message is decoded after those changes (commit order), and a
 * stream confirms a position (its slot's confirmed_flush_lsn) only once the handlers of every
 * change up to it have finished.
 */
export async function settled(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { lsn } = (await client.query<{ lsn: string }>("SELECT pg_logical_emit_message(true, 'atlas-test-settle', '')::text AS lsn")).rows[0]!;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { streams, behind } = (
        await client.query<{ streams: number; behind: number }>(
          `SELECT count(*)::int AS streams, count(*) FILTER (WHERE confirmed_flush_lsn IS NULL OR confirmed_flush_lsn <= $1::pg_lsn)::int AS behind
             FROM pg_replication_slots WHERE slot_name LIKE 'atlas\\_cache\\_%' AND active`,
          [lsn],
        )
      ).rows[0]!;
      if (streams > 0 && behind === 0) return;
      if (Date.now() > deadline) throw new Error(`${behind} of ${streams} cache streams did not reach ${lsn} within 15 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await client.end();
  }
}

export async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A throwaway redis-server on a free port, with a password. */
export async function throwawayRedis(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'test-secret'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    redis.once('error', (err) => reject(new Error(`redis-server is required for this suite: ${err.message}`)));
    setTimeout(resolve, 300);
  });
  return { url: `redis://:test-secret@127.0.0.1:${port}/0`, stop: () => void redis.kill('SIGTERM') };
}

export async function hits(r: RegionApp, event: string): Promise<number> {
  const text = (await r.authed().inject({ method: 'GET', url: '/metrics' })).body;
  return [...text.matchAll(new RegExp(`atlas_cache_events_total\\{[^}]*table="organization"[^}]*event="${event}"[^}]*\\} (\\d+)`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);
}

