import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_ENV, API_ENV_NAMES, missingApiEnv } from '@atlas/api/config-keys';
import { ApiEnvError, apiContainerEnv, apiKeyProblems, type ApiEnvInput } from '../components/api-env';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { configFromEnv, ConfigError } from '../../packages/api/src/config';

/** Every `env.NAME` / `process.env.NAME` read in packages/api/src. */
function variablesReadByApi(): Set<string> {
  const root = new URL('../../packages/api/src/', import.meta.url).pathname;
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
    }
  };
  walk(root);
  return names;
}

const complete: ApiEnvInput = {
  ATLAS_REGION: { value: 'eu-west-1' },
  ATLAS_HOME: { value: '/var/lib/atlas' },
  ATLAS_DB_HOST: { value: 'db.internal' },
  ATLAS_DB_NAME: { value: 'atlas' },
  ATLAS_DB_USER: { valueFrom: 'arn:aws:secretsmanager:eu-west-1:1:secret:db:username::' },
  ATLAS_DB_PASSWORD: { valueFrom: 'arn:aws:secretsmanager:eu-west-1:1:secret:db:password::' },
  ATLAS_DOCUMENT_KEY: { valueFrom: 'arn:k:ATLAS_DOCUMENT_KEY::' },
  ATLAS_BLIND_INDEX_KEY: { valueFrom: 'arn:k:ATLAS_BLIND_INDEX_KEY::' },
  ATLAS_AUDIT_SIGNING_KEY: { valueFrom: 'arn:k:ATLAS_AUDIT_SIGNING_KEY::' },
  ATLAS_AUTH_PUBLIC_KEY: { value: '{}' },
};

describe('the API environment list (packages/api/src/config-keys.ts)', () => {
  it('names every variable the API source reads, and nothing it does not', () => {
    const read = variablesReadByApi();
    expect([...read].filter((n) => !(n in API_ENV)).sort()).toEqual([]);
    expect(API_ENV_NAMES.filter((n) => !read.has(n)).sort()).toEqual([]);
  });

  it('accepts either database form and lists what is missing', () => {
    expect(missingApiEnv(Object.keys(complete))).toEqual([]);
    const withUrl = Object.keys(complete).filter((n) => !n.startsWith('ATLAS_DB_')).concat('DATABASE_URL');
    expect(missingApiEnv(withUrl)).toEqual([]);
    expect(missingApiEnv(Object.keys(complete).filter((n) => n !== 'ATLAS_DB_PASSWORD'))).toEqual(['ATLAS_DB_PASSWORD']);
    expect(missingApiEnv([])).toEqual(expect.arrayContaining(['ATLAS_REGION', 'ATLAS_HOME', 'ATLAS_DOCUMENT_KEY', 'ATLAS_BLIND_INDEX_KEY', 'ATLAS_AUTH_PUBLIC_KEY', 'ATLAS_AUDIT_SIGNING_KEY', 'ATLAS_DB_HOST']));
  });
});

describe('apiContainerEnv (what the ECS task definition is built with)', () => {
  it('splits plain values from Secrets Manager references', () => {
    const env = apiContainerEnv(complete);
    expect(env.secrets.map((s) => s.name).sort()).toEqual(['ATLAS_AUDIT_SIGNING_KEY', 'ATLAS_BLIND_INDEX_KEY', 'ATLAS_DB_PASSWORD', 'ATLAS_DB_USER', 'ATLAS_DOCUMENT_KEY']);
    expect(env.environment.every((e) => !API_ENV[e.name].secret)).toBe(true);
  });

  it.each(['ATLAS_AUDIT_SIGNING_KEY', 'ATLAS_REGION', 'ATLAS_DB_HOST', 'ATLAS_HOME', 'ATLAS_AUTH_PUBLIC_KEY'] as const)('refuses a task definition without %s', (name) => {
    const { [name]: _dropped, ...rest } = complete;
    expect(() => apiContainerEnv(rest)).toThrow(new RegExp(`lacks .*${name}`));
  });

  it('refuses a secret as a plain value', () => {
    expect(() => apiContainerEnv({ ...complete, ATLAS_DOCUMENT_KEY: { value: 'AAAA' } })).toThrow(ApiEnvError);
    expect(() => apiContainerEnv({ ...complete, REDIS_PASSWORD: { value: 'token' } })).toThrow(/REDIS_PASSWORD is secret/);
  });

  it('refuses a variable the API does not read', () => {
    expect(() => apiContainerEnv({ ...complete, ATLAS_DB_CREDENTIALS: { valueFrom: 'arn:x' } } as ApiEnvInput)).toThrow(/not read by the API/);
  });
});

describe('apiKeyProblems (stack secrets checked before they are stored)', () => {
  const good = {
    region: 'eu-west-1',
    documentKey: Buffer.alloc(32, 3).toString('base64'),
    blindIndexKey: 'b'.repeat(32),
    auditSigningKey: JSON.stringify(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })),
    dbAppPassword: 'p'.repeat(24),
    dbCacheStreamPassword: 's'.repeat(32),
  };

  it('accepts what generate-keys.ts produces', () => {
    expect(apiKeyProblems(good)).toEqual([]);
  });

  it('passes the stack secrets generate-keys.ts actually prints, the cache stream\'s password among them', () => {
    const root = new URL('../../', import.meta.url).pathname;
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/scripts/generate-keys.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // `pulumi config set --secret atlas:<key> <value>`, the value bare or in sh single quotes.
    const set = Object.fromEntries([...run.stdout.matchAll(/^pulumi config set --secret atlas:(\w+) (?:'((?:[^']|'\\'')*)'|(\S+))$/gm)].map((m) => [m[1]!, m[2] !== undefined ? m[2].replace(/'\\''/g, "'") : m[3]!]));
    expect(Object.keys(set).sort()).toEqual(['auditSigningKey', 'blindIndexKey', 'dbAppPassword', 'dbCacheStreamPassword', 'documentKeys', 'redisAuthToken']);
    expect(set.dbCacheStreamPassword).not.toBe(set.dbAppPassword);
    const documentKeys = JSON.parse(set.documentKeys!) as Record<string, string>;
    expect(apiKeyProblems({ region: 'eu-west-1', documentKey: documentKeys['eu-west-1'], blindIndexKey: set.blindIndexKey!, auditSigningKey: set.auditSigningKey!, dbAppPassword: set.dbAppPassword!, dbCacheStreamPassword: set.dbCacheStreamPassword! })).toEqual([]);
  });

  it.each([
    [{ documentKey: undefined }, 'atlas:documentKeys has no key for eu-west-1'],
    [{ documentKey: Buffer.alloc(16).toString('base64') }, 'atlas:documentKeys.eu-west-1 must be 32 bytes in base64'],
    [{ blindIndexKey: 'short' }, 'atlas:blindIndexKey must be at least 16 characters'],
    [{ auditSigningKey: JSON.stringify(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })) }, 'atlas:auditSigningKey must be an Ed25519 private JWK'],
    [{ dbAppPassword: 'x' }, 'atlas:dbAppPassword must be at least 16 characters'],
    [{ dbCacheStreamPassword: 's'.repeat(15) }, 'atlas:dbCacheStreamPassword must be at least 16 characters'],
  ])('names the stack key of %j', (bad, message) => {
    expect(apiKeyProblems({ ...good, ...bad }).join('; ')).toContain(message);
  });
});

describe('configFromEnv database forms', () => {
  const base = {
    ATLAS_REGION: 'eu-west-1',
    ATLAS_HOME: '/tmp/atlas-test-home',
    ATLAS_DOCUMENT_KEY: Buffer.alloc(32, 1).toString('base64'),
    ATLAS_BLIND_INDEX_KEY: 'k'.repeat(32),
    ATLAS_AUTH_PUBLIC_KEY: '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo"}',
    ATLAS_AUDIT_SIGNING_KEY: '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo","d":"V4VGbhuzJLk2Bjsf71NaQ7ZFfFU6Iq4RTLBByQjx1LE"}',
  };
  const parts = { ATLAS_DB_HOST: 'db.eu.internal', ATLAS_DB_NAME: 'atlas', ATLAS_DB_USER: 'app user', ATLAS_DB_PASSWORD: 'p@ss/w:rd?&%' };

  it('builds the admin URL from ATLAS_ADMIN_DB_USER/PASSWORD on the same server, or takes it as given', () => {
    const admin = new URL(configFromEnv({ ...base, ...parts, ATLAS_ADMIN_DB_USER: 'atlas_admin', ATLAS_ADMIN_DB_PASSWORD: 'a:b@c', ATLAS_DB_SSLMODE: 'require' }).adminDatabaseUrl!);
    expect([admin.hostname, admin.pathname, decodeURIComponent(admin.username), decodeURIComponent(admin.password), admin.searchParams.get('sslmode')]).toEqual(['db.eu.internal', '/atlas', 'atlas_admin', 'a:b@c', 'require']);
    expect(configFromEnv({ ...base, ...parts, ATLAS_ADMIN_DATABASE_URL: 'postgres://x:y@h/d' }).adminDatabaseUrl).toBe('postgres://x:y@h/d');
    expect(configFromEnv({ ...base, ...parts }).adminDatabaseUrl).toBeUndefined();
  });

  it("derives the cache stream's URL on the API's own database server, or takes it as given", () => {
    const fromParts = new URL(configFromEnv({ ...base, ...parts, ATLAS_DB_SSLMODE: 'require', ATLAS_CACHE_STREAM_PASSWORD: 's@c/r:t' }).cacheStreamUrl!);
    expect([fromParts.hostname, fromParts.pathname, decodeURIComponent(fromParts.username), decodeURIComponent(fromParts.password), fromParts.searchParams.get('sslmode')]).toEqual([
      'db.eu.internal',
      '/atlas',
      'atlas_cache_stream',
      's@c/r:t',
      'require',
    ]);
    const fromUrl = new URL(configFromEnv({ ...base, DATABASE_URL: 'postgres://atlas_app:pw@127.0.0.1:15432/atlas?sslmode=disable', ATLAS_CACHE_STREAM_USER: 'streamer', ATLAS_CACHE_STREAM_PASSWORD: 'x y%' }).cacheStreamUrl!);
    expect([fromUrl.host, fromUrl.pathname, decodeURIComponent(fromUrl.username), decodeURIComponent(fromUrl.password), fromUrl.search]).toEqual(['127.0.0.1:15432', '/atlas', 'streamer', 'x y%', '?sslmode=disable']);
    expect(configFromEnv({ ...base, ...parts, ATLAS_CACHE_STREAM_URL: 'postgres://s:t@h/d' }).cacheStreamUrl).toBe('postgres://s:t@h/d');
    // Nothing to invalidate a cache with: the API caches nothing (app.ts).
    expect(configFromEnv({ ...base, ...parts }).cacheStreamUrl).toBeUndefined();
  });

  it('uses DATABASE_URL as given when present', () => {
    expect(configFromEnv({ ...base, ...parts, DATABASE_URL: 'postgres://a:b@h:1/d' }).databaseUrl).toBe('postgres://a:b@h:1/d');
  });

  it('builds the URL from the parts, encoding credentials so they read back exactly', () => {
    const url = new URL(configFromEnv({ ...base, ...parts, ATLAS_DB_PORT: '6543', ATLAS_DB_SSLMODE: 'verify-full', ATLAS_DB_SSLROOTCERT: '/app/certs/ca.pem' }).databaseUrl);
    expect([url.protocol, url.hostname, url.port, url.pathname]).toEqual(['postgresql:', 'db.eu.internal', '6543', '/atlas']);
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password)]).toEqual(['app user', 'p@ss/w:rd?&%']);
    expect(Object.fromEntries(url.searchParams)).toEqual({ sslmode: 'verify-full', sslrootcert: '/app/certs/ca.pem' });
    expect(new URL(configFromEnv({ ...base, ...parts }).databaseUrl).port).toBe('5432');
  });

  it.each([
    [{}, 'DATABASE_URL: is required'],
    [{ ATLAS_DB_HOST: 'db', ATLAS_DB_NAME: 'atlas', ATLAS_DB_USER: 'u' }, 'ATLAS_DB_PASSWORD: is required with'],
    [{ ...parts, ATLAS_DB_PORT: '70000' }, 'ATLAS_DB_PORT'],
    [{ ...parts, ATLAS_DB_SSLMODE: 'maybe' }, 'ATLAS_DB_SSLMODE'],
    [{ ...parts, ATLAS_DB_SSLROOTCERT: '/ca.pem' }, 'ATLAS_DB_SSLROOTCERT: is used only with'],
    [{ ...parts, ATLAS_DB_HOST: 'db/evil' }, 'ATLAS_DB_HOST'],
    [{ ...parts, ATLAS_ADMIN_DB_USER: 'atlas_admin' }, 'ATLAS_ADMIN_DB_PASSWORD: is required with'],
    [{ DATABASE_URL: 'postgres://a:b@h/d', ATLAS_ADMIN_DB_USER: 'u', ATLAS_ADMIN_DB_PASSWORD: 'p' }, 'ATLAS_ADMIN_DB_USER: is used only with ATLAS_DB_HOST'],
    [{ ...parts, ATLAS_CACHE_STREAM_USER: 'streamer' }, 'ATLAS_CACHE_STREAM_PASSWORD: is required with'],
    [{ ...parts, ATLAS_CACHE_STREAM_URL: 'mysql://s@h/d' }, 'ATLAS_CACHE_STREAM_URL'],
  ])('refuses %j by name', (extra, message) => {
    let error: unknown;
    try {
      configFromEnv({ ...base, ...extra });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
  });
});
