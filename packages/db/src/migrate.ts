import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import Postgrator from 'postgrator';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** The newest migration version shipped with this build: what "at head" means. */
export function headVersion(): number {
  return Math.max(
    0,
    ...readdirSync(MIGRATIONS_DIR)
      .map((f) => /^(\d+)\.do\./.exec(f)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number),
  );
}

export interface MigrationReport {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

// Any number shared by every Atlas migrator: two processes starting together take turns.
const MIGRATION_LOCK = 0x41544c53;

/**
 * Runs the versioned SQL migrations (postgrator) as the owner, under an advisory lock so
 * that concurrent starts never race. Already-applied versions are skipped: idempotent.
 */
export async function migrateToHead(connectionString: string): Promise<MigrationReport> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const postgrator = new Postgrator({
      migrationPattern: `${MIGRATIONS_DIR}/*.sql`,
      driver: 'pg',
      database: client.database ?? 'atlas',
      schemaTable: 'public.schemaversion',
      execQuery: (query) => client.query(query),
    });
    const from = await postgrator.getDatabaseVersion().catch(() => 0);
    const applied = await postgrator.migrate();
    return { from, to: await postgrator.getDatabaseVersion(), applied: applied.map((m) => m.filename) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}

/** The version recorded in the database, 0 when no migration ever ran. */
export async function databaseVersion(query: (sql: string) => Promise<{ rows: Array<{ version?: unknown }> }>): Promise<number> {
  try {
    const { rows } = await query('SELECT max(version)::int AS version FROM public.schemaversion');
    return Number(rows[0]?.version ?? 0);
  } catch {
    return 0;
  }
}
