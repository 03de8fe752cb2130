import { join } from 'node:path';
import pg from 'pg';
import type { RegionConfig } from '@atlas/core';
import { regionDir, type LocalSecrets } from './home';
import { migrateToHead, type MigrationReport } from './migrate';
import { PgNode } from './pg-node';

export const DATABASE_NAME = 'atlas';
/** The role of the API's cache-invalidation stream (migration 025). */
export const CACHE_STREAM_ROLE = 'atlas_cache_stream';

export function databaseUrl(user: string, password: string, port: number, database = DATABASE_NAME): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

export interface RegionDatabase {
  readonly region: RegionConfig;
  readonly node: PgNode;
  /** Superuser URL: migrations, replication set-up, operator tools. */
  readonly adminUrl: string;
  /** The API's URL, as atlas_app. */
  readonly appUrl: string;
  /** The API's cache-invalidation stream, as atlas_cache_stream (replication connections only). */
  readonly cacheStreamUrl: string;
  readonly migration: MigrationReport;
}

export type Progress = (message: string) => void;

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Brings one region's database to a serving state: initdb on first run, start, create the
 * database, migrate to head, record the cluster's region, set the API role's password.
 * Safe to call again on an existing data directory (it reuses the data).
 */
export async function ensureRegionDatabase(options: {
  readonly home: string;
  readonly region: RegionConfig;
  readonly secrets: LocalSecrets;
  readonly progress?: Progress;
}): Promise<RegionDatabase> {
  const { region, secrets } = options;
  const say = options.progress ?? (() => undefined);
  const node = new PgNode({
    dataDir: join(regionDir(options.home, region.id), 'pg'),
    port: region.dbPort,
    superuserPassword: secrets.superuserPassword,
  });
  if (!node.isInitialised()) {
    say(`${region.id}: initialising a new PostgreSQL 18 cluster`);
    await node.initialise();
  }
  let startedHere = false;
  if (await node.isRunning()) {
    say(`${region.id}: PostgreSQL already running on ${region.dbPort}`);
  } else {
    say(`${region.id}: starting PostgreSQL on 127.0.0.1:${region.dbPort}`);
    await node.start();
    startedHere = true;
  }
  const adminUrl = databaseUrl('postgres', secrets.superuserPassword, region.dbPort);
  let migration: MigrationReport;
  try {
    await withClient(databaseUrl('postgres', secrets.superuserPassword, region.dbPort, 'postgres'), async (c) => {
      const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
      if (rowCount === 0) await c.query(`CREATE DATABASE ${DATABASE_NAME}`);
    });
    say(`${region.id}: migrating`);
    migration = await migrateToHead(adminUrl);
    await withClient(adminUrl, async (c) => {
      await c.query(
        'INSERT INTO atlas_cluster (region, region_code) VALUES ($1, $2) ON CONFLICT (singleton) DO NOTHING',
        [region.id, region.code],
      );
      const { rows } = await c.query<{ region: string; region_code: string }>('SELECT region, region_code FROM atlas_cluster');
      const identity = rows[0];
      if (identity?.region !== region.id || identity.region_code !== region.code) {
        throw new Error(
          `the database on port ${region.dbPort} belongs to ${identity?.region} (${identity?.region_code}), not ${region.id} (${region.code}): refusing to mix regions' data`,
        );
      }
      // readyz compares the recorded version with the head, as the API role.
      await c.query('GRANT SELECT ON public.schemaversion TO atlas_app');
      // Role passwords are cluster-wide and not part of any migration: they come from secrets.
      await c.query(`ALTER ROLE atlas_app PASSWORD ${c.escapeLiteral(secrets.appPassword)}`);
      await c.query(`ALTER ROLE atlas_cache_stream PASSWORD ${c.escapeLiteral(secrets.cacheStreamPassword)}`);
    });
  } catch (err) {
    // A server this call started must not outlive its failure (nobody else knows of it).
    if (startedHere) await node.stop('fast').catch(() => undefined);
    throw err;
  }
  return {
    region,
    node,
    adminUrl,
    appUrl: databaseUrl('atlas_app', secrets.appPassword, region.dbPort),
    cacheStreamUrl: databaseUrl(CACHE_STREAM_ROLE, secrets.cacheStreamPassword, region.dbPort),
    migration,
  };
}
