import pg from 'pg';
import { DATABASE_NAME, databaseUrl } from '../bootstrap';

/** Superuser URL of a local node (the orchestrator's view of a region's servers). */
export function nodeUrl(port: number, superuserPassword: string, database = DATABASE_NAME): string {
  return databaseUrl('postgres', superuserPassword, port, database);
}

/**
 * Runs `fn` on a FRESH connection, closed afterwards, everything bounded by `timeoutMs`.
 * Fresh on purpose: a kept-open connection keeps working when only the postmaster is frozen.
 */
export async function withFreshClient<T>(url: string, timeoutMs: number, fn: (client: pg.Client) => Promise<T>, applicationName = 'atlas-orchestrator'): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: applicationName,
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${redact(url)} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([
      (async () => {
        await client.connect();
        return fn(client);
      })(),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
    // Never await end() on a frozen server: it would wait as long as the server is frozen.
    void client.end().catch(() => undefined);
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@]*@/, '//$1:***@');
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly inRecovery?: boolean;
  /** For a standby: the WAL receiver's status ('streaming' when fed by its primary). */
  readonly receiver?: string | null;
  readonly error?: string;
}

/** One health probe of a node over a fresh connection. `ok` means it answered in time. */
export async function probeNode(url: string, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  try {
    const row = await withFreshClient(url, timeoutMs, async (c) => {
      const { rows } = await c.query<{ in_recovery: boolean; receiver: string | null }>(
        'SELECT pg_is_in_recovery() AS in_recovery, (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver',
      );
      return rows[0]!;
    });
    return { ok: true, latencyMs: performance.now() - started, inRecovery: row.in_recovery, receiver: row.receiver };
  } catch (err) {
    return { ok: false, latencyMs: performance.now() - started, error: (err as Error).message };
  }
}
