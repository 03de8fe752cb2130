import { configFromEnv, ConfigError } from '../../config';
import { replayRegionErasureLedger } from './erasure-ledger.store';

/**
 * After a restore of a region's database, before it takes traffic: replays the region's
 * erasure ledger from its off-database copy. Run with the region API's own environment — in
 * AWS, a one-off task of the API's task definition with this command:
 *
 *   node --import tsx packages/api/src/routes/privacy/erasure-replay.main.ts
 *
 * It needs the superuser URL (ATLAS_ADMIN_DATABASE_URL, or ATLAS_ADMIN_DB_USER/PASSWORD).
 * Prints the report as JSON. Exit 0: replayed; 1: replayed, but some records of the copy are
 * not ledger entries (listed in `unreadable`, to be looked at); 2: could not run.
 */
async function main(): Promise<number> {
  let config;
  try {
    config = configFromEnv(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`erasure replay: ${err.message}\n`);
    return 2;
  }
  if (!config.adminDatabaseUrl) {
    process.stderr.write('erasure replay: ATLAS_ADMIN_DATABASE_URL (or ATLAS_ADMIN_DB_USER and ATLAS_ADMIN_DB_PASSWORD) is required: the replay runs as the superuser\n');
    return 2;
  }
  const report = await replayRegionErasureLedger(config, config.adminDatabaseUrl);
  process.stdout.write(`${JSON.stringify({ region: config.region.id, ...report })}\n`);
  return report.unreadable.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`erasure replay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
