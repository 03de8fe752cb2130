import { AsyncLocalStorage } from 'node:async_hooks';
import {
  CamelCasePlugin,
  CompiledQuery,
  Kysely,
  PostgresDialect,
  PostgresDriver,
  type DatabaseConnection,
  type Driver,
  type PostgresDialectConfig,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';
import type { Database } from './schema';

// bigint (int8) and numeric come back as strings by default; keep them exact as strings,
// except the counts the API reports, which are cast in SQL where needed.
export interface AtlasDb {
  readonly db: Kysely<Database>;
  readonly pool: pg.Pool;
  destroy(): Promise<void>;
}

/** The tenant the next BEGIN on this async path should set (withTenant's one-round-trip start). */
const tenantOfBegin = new AsyncLocalStorage<string>();
/** Tenant ids that are safe as a SQL literal as they are (organization ids are like this). */
const PLAIN_TENANT = /^[A-Za-z0-9_-]{1,64}$/;
/** Kysely instances whose driver knows tenantOfBegin. */
const tenantAware = new WeakSet<object>();

/**
 * A plain transaction started inside beginWithTenant sends BEGIN and the tenant's set_config as
 * one simple-protocol message: one round trip where Kysely's own start plus the setting take two.
 */
class TenantAwareDriver extends PostgresDriver {
  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const tenant = tenantOfBegin.getStore();
    if (tenant === undefined || settings.isolationLevel || settings.accessMode || !PLAIN_TENANT.test(tenant)) {
      return super.beginTransaction(connection, settings);
    }
    await connection.executeQuery(CompiledQuery.raw(`BEGIN; SELECT set_config('atlas.org_id', '${tenant}', true)`));
  }
}

class TenantAwareDialect extends PostgresDialect {
  constructor(private readonly settings: PostgresDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new TenantAwareDriver(this.settings);
  }
}

/**
 * Runs start() so that the transaction it begins on db starts with the tenant already set,
 * or returns undefined when db cannot do that (another Kysely instance, an unusual id): the
 * caller then sets the tenant itself. Only the BEGIN sees the tenant: the transaction's own
 * work (and any other transaction it starts) runs outside this context.
 */
export function beginWithTenant<T>(db: Kysely<Database>, tenant: string, start: (outside: <R>(fn: () => R) => R) => Promise<T>): Promise<T> | undefined {
  if (!tenantAware.has(db) || !PLAIN_TENANT.test(tenant)) return undefined;
  return tenantOfBegin.run(tenant, () => start((fn) => tenantOfBegin.exit(fn)));
}

export function createDb(connectionString: string, options: { max?: number; applicationName?: string } = {}): AtlasDb {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'atlas',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's error (server restart, failover) must not crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new TenantAwareDialect({ pool }), plugins: [new CamelCasePlugin()] });
  tenantAware.add(db);
  return { db, pool, destroy: () => db.destroy() };
}
