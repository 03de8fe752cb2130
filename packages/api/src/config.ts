import Type from 'typebox';
import { Value } from 'typebox/value';
import { loadTopology, requireRegion, type RegionConfig, type Topology } from '@atlas/core';
import { DATABASE_PARTS_FORM, type ApiEnvName } from './config-keys';
import { securityConfigFromEnv, SecurityConfigError, type SecurityConfig } from './security/security-config';

/** Everything a regional API process needs, validated once at start and then frozen. */
export interface ApiConfig {
  readonly topology: Topology;
  readonly region: RegionConfig;
  readonly databaseUrl: string;
  readonly home: string;
  readonly host: string;
  readonly port: number;
  /** AES-256 key for document bodies at rest in this region (32 bytes). */
  readonly documentKey: Buffer;
  /** Key of the e-mail blind index, the same in every region. */
  readonly blindIndexKey: string;
  readonly logLevel: string;
  /** Largest JSON body accepted, bytes. */
  readonly bodyLimit: number;
  /** Largest document body accepted, bytes. */
  readonly documentLimit: number;
  /** The region's S3 bucket for sealed document bodies; absent: files under `home` (lib/body-store.ts). */
  readonly documentsBucket?: DocumentsBucketConfig;
  /**
   * The cache-invalidation stream's URL (role atlas_cache_stream, replication connections
   * only: lib/change-listener.ts). Absent: global rows are not cached, since nothing would
   * invalidate them.
   */
  readonly cacheStreamUrl?: string;
  /** Redis for the global-row cache (TLS with rediss://); the in-process LRU when absent. */
  readonly redisUrl?: string;
  /** How often to probe the other regions' round trips; 0 disables the probes. */
  readonly probeIntervalMs: number;
  /** Round trips above this raise a latency alert. */
  readonly latencyAlertMs: number;
  /** Base URL of each other region's API; defaults to 127.0.0.1:<apiPort> (local cluster). */
  readonly peerUrls: Readonly<Record<string, string>>;
  /** The region database's superuser URL, for replication status and management; optional. */
  readonly adminDatabaseUrl?: string;
  /** How often replication status feeds the metrics; 0 disables polling. */
  readonly replicationPollMs: number;
  /** Replication lag above this records a high-lag event in region_health. */
  readonly replicationLagAlertSeconds: number;
  /** Tokens, audit signing, rate limits, CORS, retention (security/security-config.ts). */
  readonly security: SecurityConfig;
  /** Regions this region is the disaster-recovery partner of: their promoted standby's URL and document key (plugins/residency-dr.ts). */
  readonly drRegions?: Readonly<Record<string, DrRegionConfig>>;
}

export interface DocumentsBucketConfig {
  readonly bucket: string;
  /** The bucket's AWS region: this process's region, also when it hosts a DR partner's API. */
  readonly region: string;
  /** An S3-compatible endpoint instead of AWS S3 (tests, MinIO). */
  readonly endpoint?: string;
  /** Bucket in the URL path rather than the host name. */
  readonly forcePathStyle: boolean;
}

export interface DrRegionConfig {
  /** The region's standby node, which lives in this (partner) region and becomes its primary on a partner failover. */
  readonly databaseUrl: string;
  readonly documentKey: Buffer;
}

// Keys are checked against config-keys.ts, the list the deployment's task definition follows.
const EnvSchema = Type.Object({
  ATLAS_REGION: Type.String({ minLength: 1 }),
  // DATABASE_URL, or the parts a managed database hands out (host + a credentials secret).
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  ATLAS_DB_HOST: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$' })),
  ATLAS_DB_PORT: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
  ATLAS_DB_NAME: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_$-]{0,62}$' })),
  ATLAS_DB_USER: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  ATLAS_DB_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  ATLAS_DB_SSLMODE: Type.Optional(Type.Union(['disable', 'no-verify', 'require', 'verify-ca', 'verify-full'].map((m) => Type.Literal(m)))),
  ATLAS_DB_SSLROOTCERT: Type.Optional(Type.String({ pattern: '^/' })),
  ATLAS_ADMIN_DB_USER: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  ATLAS_ADMIN_DB_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  ATLAS_CACHE_STREAM_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  ATLAS_CACHE_STREAM_USER: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  ATLAS_CACHE_STREAM_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  ATLAS_HOME: Type.String({ minLength: 1 }),
  ATLAS_DOCUMENT_KEY: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' }),
  ATLAS_BLIND_INDEX_KEY: Type.String({ minLength: 16 }),
  // S3 bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens.
  ATLAS_DOCUMENTS_BUCKET: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' })),
  ATLAS_DOCUMENTS_S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+/?$' })),
  ATLAS_DOCUMENTS_S3_PATH_STYLE: Type.Optional(Type.Union([Type.Literal('0'), Type.Literal('1')])),
  ATLAS_HOST: Type.Optional(Type.String()),
  ATLAS_PORT: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
  ATLAS_PROBE_INTERVAL_MS: Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$' })),
  ATLAS_LATENCY_ALERT_MS: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
  ATLAS_PEER_URLS: Type.Optional(Type.String({ minLength: 2 })),
  ATLAS_ADMIN_DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  ATLAS_REPLICATION_POLL_MS: Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$' })),
  ATLAS_REPLICATION_LAG_ALERT_S: Type.Optional(Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?$' })),
  ATLAS_DR_REGIONS: Type.Optional(Type.String({ minLength: 2 })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  LOG_LEVEL: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)))),
} satisfies Partial<Record<ApiEnvName, unknown>>);

export class ConfigError extends Error {
  constructor(variable: string, message: string) {
    super(`configuration: ${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Reads the API configuration from the environment; a bad variable stops start-up by name. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const first = Value.Errors(EnvSchema, env)[0];
  if (first) {
    const variable = first.instancePath.replace(/^\//, '') || String((first.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? '(env)');
    throw new ConfigError(variable, first.message);
  }
  const databaseUrl = databaseUrlFromEnv(env);
  const adminDatabaseUrl = adminDatabaseUrlFromEnv(env);
  const cacheStreamUrl = cacheStreamUrlFromEnv(env, databaseUrl);
  const topology = loadTopology(env.ATLAS_TOPOLOGY);
  const region = requireRegion(topology, env.ATLAS_REGION!);
  let security: SecurityConfig;
  try {
    security = securityConfigFromEnv(env);
  } catch (err) {
    if (err instanceof SecurityConfigError) throw new ConfigError(err.variable, err.message);
    throw err;
  }
  return Object.freeze({
    security,
    topology,
    region,
    databaseUrl,
    home: env.ATLAS_HOME!,
    host: env.ATLAS_HOST ?? '127.0.0.1',
    port: env.ATLAS_PORT ? Number(env.ATLAS_PORT) : region.apiPort,
    documentKey: Buffer.from(env.ATLAS_DOCUMENT_KEY!, 'base64'),
    blindIndexKey: env.ATLAS_BLIND_INDEX_KEY!,
    logLevel: env.LOG_LEVEL ?? 'info',
    bodyLimit: 256 * 1024,
    documentLimit: 10 * 1024 * 1024,
    ...documentsBucketFromEnv(env, region),
    ...(cacheStreamUrl ? { cacheStreamUrl } : {}),
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    probeIntervalMs: env.ATLAS_PROBE_INTERVAL_MS ? Number(env.ATLAS_PROBE_INTERVAL_MS) : 5_000,
    latencyAlertMs: env.ATLAS_LATENCY_ALERT_MS ? Number(env.ATLAS_LATENCY_ALERT_MS) : 200,
    peerUrls: parsePeerUrls(env.ATLAS_PEER_URLS),
    ...(adminDatabaseUrl ? { adminDatabaseUrl } : {}),
    replicationPollMs: env.ATLAS_REPLICATION_POLL_MS ? Number(env.ATLAS_REPLICATION_POLL_MS) : 5_000,
    replicationLagAlertSeconds: env.ATLAS_REPLICATION_LAG_ALERT_S ? Number(env.ATLAS_REPLICATION_LAG_ALERT_S) : 1,
    ...(env.ATLAS_DR_REGIONS ? { drRegions: parseDrRegions(env.ATLAS_DR_REGIONS, topology, region) } : {}),
  });
}

/** ATLAS_DR_REGIONS: {"<region>": {"databaseUrl": "postgres://…", "documentKey": "<base64>"}} for regions naming this one as DR partner. */
function parseDrRegions(text: string, topology: Topology, here: RegionConfig): Record<string, DrRegionConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError('ATLAS_DR_REGIONS', 'must be a JSON object of region id → { databaseUrl, documentKey }');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('ATLAS_DR_REGIONS', 'must be a JSON object of region id → { databaseUrl, documentKey }');
  const out: Record<string, DrRegionConfig> = {};
  for (const [id, value] of Object.entries(parsed)) {
    const region = topology.regions.find((r) => r.id === id);
    if (!region || region.drPartner !== here.id) throw new ConfigError('ATLAS_DR_REGIONS', `${id} does not name ${here.id} as its disaster-recovery partner in the topology`);
    const v = value as { databaseUrl?: unknown; documentKey?: unknown };
    if (typeof v.databaseUrl !== 'string' || !/^postgres(ql)?:\/\//.test(v.databaseUrl)) throw new ConfigError('ATLAS_DR_REGIONS', `${id}.databaseUrl must be a postgres:// URL`);
    if (typeof v.documentKey !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(v.documentKey)) throw new ConfigError('ATLAS_DR_REGIONS', `${id}.documentKey must be 32 bytes in base64`);
    out[id] = { databaseUrl: v.databaseUrl, documentKey: Buffer.from(v.documentKey, 'base64') };
  }
  return out;
}

/** ATLAS_DOCUMENTS_BUCKET (+ endpoint, path style); the S3 options are refused without a bucket. */
function documentsBucketFromEnv(env: NodeJS.ProcessEnv, region: RegionConfig): { documentsBucket?: DocumentsBucketConfig } {
  if (!env.ATLAS_DOCUMENTS_BUCKET) {
    const stray = (['ATLAS_DOCUMENTS_S3_ENDPOINT', 'ATLAS_DOCUMENTS_S3_PATH_STYLE'] as const).find((name) => env[name]);
    if (stray) throw new ConfigError(stray, 'is used only with ATLAS_DOCUMENTS_BUCKET');
    return {};
  }
  return {
    documentsBucket: {
      bucket: env.ATLAS_DOCUMENTS_BUCKET,
      region: region.id,
      ...(env.ATLAS_DOCUMENTS_S3_ENDPOINT ? { endpoint: env.ATLAS_DOCUMENTS_S3_ENDPOINT } : {}),
      forcePathStyle: env.ATLAS_DOCUMENTS_S3_PATH_STYLE === '1',
    },
  };
}

/**
 * DATABASE_URL as given, or one built from ATLAS_DB_HOST/PORT/NAME/USER/PASSWORD (+ SSLMODE,
 * SSLROOTCERT): the form ECS can fill from an RDS endpoint and its managed credentials secret.
 */
function databaseUrlFromEnv(env: NodeJS.ProcessEnv): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const missing = DATABASE_PARTS_FORM.filter((name) => !env[name]);
  if (missing.length === DATABASE_PARTS_FORM.length) throw new ConfigError('DATABASE_URL', `is required (or ${DATABASE_PARTS_FORM.join(', ')})`);
  if (missing.length > 0) throw new ConfigError(missing[0]!, `is required with ${DATABASE_PARTS_FORM.filter((n) => !missing.includes(n)).join(', ')} when DATABASE_URL is not set`);
  return urlFromParts(env, env.ATLAS_DB_USER!, env.ATLAS_DB_PASSWORD!);
}

/** ATLAS_ADMIN_DATABASE_URL as given, or the same server and database as the admin user. */
function adminDatabaseUrlFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  if (env.ATLAS_ADMIN_DATABASE_URL) return env.ATLAS_ADMIN_DATABASE_URL;
  if (!env.ATLAS_ADMIN_DB_USER && !env.ATLAS_ADMIN_DB_PASSWORD) return undefined;
  if (!env.ATLAS_ADMIN_DB_USER || !env.ATLAS_ADMIN_DB_PASSWORD) throw new ConfigError(env.ATLAS_ADMIN_DB_USER ? 'ATLAS_ADMIN_DB_PASSWORD' : 'ATLAS_ADMIN_DB_USER', 'is required with the other ATLAS_ADMIN_DB_* variable');
  if (!env.ATLAS_DB_HOST) throw new ConfigError('ATLAS_ADMIN_DB_USER', 'is used only with ATLAS_DB_HOST (or set ATLAS_ADMIN_DATABASE_URL)');
  return urlFromParts(env, env.ATLAS_ADMIN_DB_USER, env.ATLAS_ADMIN_DB_PASSWORD);
}

/** The stream role's default name (migration 025). */
const CACHE_STREAM_ROLE = 'atlas_cache_stream';

/**
 * ATLAS_CACHE_STREAM_URL as given; or ATLAS_CACHE_STREAM_PASSWORD (+ ATLAS_CACHE_STREAM_USER,
 * default atlas_cache_stream) on the API's own database: the ATLAS_DB_* parts when given, else
 * DATABASE_URL with the stream role's credentials in place of the application role's.
 */
function cacheStreamUrlFromEnv(env: NodeJS.ProcessEnv, databaseUrl: string): string | undefined {
  if (env.ATLAS_CACHE_STREAM_URL) return env.ATLAS_CACHE_STREAM_URL;
  if (!env.ATLAS_CACHE_STREAM_PASSWORD) {
    if (env.ATLAS_CACHE_STREAM_USER) throw new ConfigError('ATLAS_CACHE_STREAM_PASSWORD', 'is required with ATLAS_CACHE_STREAM_USER');
    return undefined;
  }
  const user = env.ATLAS_CACHE_STREAM_USER ?? CACHE_STREAM_ROLE;
  if (!env.DATABASE_URL) return urlFromParts(env, user, env.ATLAS_CACHE_STREAM_PASSWORD);
  const url = new URL(databaseUrl);
  // Encoded here: the setters leave '%' as it is.
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(env.ATLAS_CACHE_STREAM_PASSWORD);
  return url.toString();
}

function urlFromParts(env: NodeJS.ProcessEnv, user: string, password: string): string {
  const port = env.ATLAS_DB_PORT ? Number(env.ATLAS_DB_PORT) : 5432;
  if (port < 1 || port > 65535) throw new ConfigError('ATLAS_DB_PORT', 'must be a port number 1..65535');
  const sslmode = env.ATLAS_DB_SSLMODE;
  if (env.ATLAS_DB_SSLROOTCERT && sslmode !== 'verify-ca' && sslmode !== 'verify-full') throw new ConfigError('ATLAS_DB_SSLROOTCERT', 'is used only with ATLAS_DB_SSLMODE=verify-ca or verify-full');
  const query = new URLSearchParams();
  if (sslmode) query.set('sslmode', sslmode);
  if (env.ATLAS_DB_SSLROOTCERT) query.set('sslrootcert', env.ATLAS_DB_SSLROOTCERT);
  const search = query.size > 0 ? `?${query.toString()}` : '';
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${env.ATLAS_DB_HOST!}:${port}/${encodeURIComponent(env.ATLAS_DB_NAME!)}${search}`;
}

function parsePeerUrls(text: string | undefined): Record<string, string> {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError('ATLAS_PEER_URLS', 'must be a JSON object of region id → base URL');
  }
  if (typeof parsed !== 'object' || parsed === null || Object.values(parsed).some((v) => typeof v !== 'string' || !/^https?:\/\//.test(v))) {
    throw new ConfigError('ATLAS_PEER_URLS', 'must be a JSON object of region id → http(s) base URL');
  }
  return parsed as Record<string, string>;
}
