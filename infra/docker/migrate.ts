/**
 * The migration command of the API image (`node --import tsx migrate.ts`), run by
 * `atlas deploy` as a one-off ECS task of the service's own task definition, so it reads the
 * database settings exactly as the API does (packages/api/src/config.ts). As the admin user
 * (ATLAS_ADMIN_DATABASE_URL, or ATLAS_ADMIN_DB_USER/PASSWORD on the same server) it migrates
 * to head, records the region's identity, and gives the API's role (the user of the API's
 * database URL, atlas_app) its password and read access to the schema version, as the local
 * bootstrap does. With ATLAS_CACHE_STREAM_PASSWORD (the task definition passes it from the
 * region's api-keys secret) it also gives the cache-invalidation stream's role
 * (ATLAS_CACHE_STREAM_USER, default atlas_cache_stream, created by migration 025) that password,
 * as bootstrap does locally; a full ATLAS_CACHE_STREAM_URL names credentials managed elsewhere
 * and is left alone. Prints one JSON line; exit 0 only when the database is at head.
 */
import pg from 'pg';
import { configFromEnv, ConfigError } from '@atlas/api';
import { headVersion, migrateToHead } from '@atlas/db';

try {
  const config = configFromEnv();
  if (!config.adminDatabaseUrl) throw new ConfigError('ATLAS_ADMIN_DB_USER', 'is required to migrate (or ATLAS_ADMIN_DATABASE_URL)');
  const app = new URL(config.databaseUrl);
  const appUser = decodeURIComponent(app.username);
  // The stream's URL is built from the password on the API's own server (config.ts), so its
  // user and password are the role and password to set here.
  const stream = config.cacheStreamUrl && process.env.ATLAS_CACHE_STREAM_PASSWORD && !process.env.ATLAS_CACHE_STREAM_URL ? new URL(config.cacheStreamUrl) : undefined;
  const streamRole = stream ? decodeURIComponent(stream.username) : null;
  const adminUser = decodeURIComponent(new URL(config.adminDatabaseUrl).username);
  // A role of its own (migration 025): the admin's password is RDS's, atlas_app has its own.
  if (streamRole !== null && (streamRole === adminUser || streamRole === appUser)) throw new ConfigError('ATLAS_CACHE_STREAM_USER', `must name the stream's own role, not ${streamRole}`);
  const report = await migrateToHead(config.adminDatabaseUrl);
  const client = new pg.Client({ connectionString: config.adminDatabaseUrl });
  await client.connect();
  try {
    await client.query('INSERT INTO atlas_cluster (region, region_code) VALUES ($1, $2) ON CONFLICT (singleton) DO NOTHING', [config.region.id, config.region.code]);
    const { rows } = await client.query<{ region: string }>('SELECT region FROM atlas_cluster');
    if (rows[0]?.region !== config.region.id) throw new Error(`this database belongs to ${rows[0]?.region}, not ${config.region.id}: refusing to mix regions' data`);
    if (appUser && appUser !== adminUser) {
      await client.query(`GRANT SELECT ON public.schemaversion TO ${client.escapeIdentifier(appUser)}`);
      await client.query(`ALTER ROLE ${client.escapeIdentifier(appUser)} PASSWORD ${client.escapeLiteral(decodeURIComponent(app.password))}`);
    }
    if (stream && streamRole) {
      // ALTER ROLE takes no bind parameters: the password goes in as an escaped literal.
      await client.query(`ALTER ROLE ${client.escapeIdentifier(streamRole)} PASSWORD ${client.escapeLiteral(decodeURIComponent(stream.password))}`);
    }
  } finally {
    await client.end();
  }
  const head = headVersion();
  process.stdout.write(`${JSON.stringify({ msg: 'migrated', region: config.region.id, from: report.from, to: report.to, head, applied: report.applied, appRole: appUser, streamRole })}\n`);
  process.exit(report.to === head ? 0 : 1);
} catch (err) {
  process.stderr.write(`atlas-migrate: ${(err as Error).message}\n`);
  process.exit(err instanceof ConfigError ? 78 : 1);
}
