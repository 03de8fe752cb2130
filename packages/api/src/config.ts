import Type from 'typebox';
import { Value } from 'typebox/value';
import { loadTopology, requireRegion, type RegionConfig, type Topology } from '@atlas/core';
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
}

const EnvSchema = Type.Object({
  ATLAS_REGION: Type.String({ minLength: 1 }),
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  ATLAS_HOME: Type.String({ minLength: 1 }),
  ATLAS_DOCUMENT_KEY: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' }),
  ATLAS_BLIND_INDEX_KEY: Type.String({ minLength: 16 }),
  ATLAS_HOST: Type.Optional(Type.String()),
  ATLAS_PORT: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
  ATLAS_PROBE_INTERVAL_MS: Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$' })),
  ATLAS_LATENCY_ALERT_MS: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
  ATLAS_PEER_URLS: Type.Optional(Type.String({ minLength: 2 })),
  ATLAS_ADMIN_DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  ATLAS_REPLICATION_POLL_MS: Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$' })),
  ATLAS_REPLICATION_LAG_ALERT_S: Type.Optional(Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?$' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  LOG_LEVEL: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)))),
});

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
    databaseUrl: env.DATABASE_URL!,
    home: env.ATLAS_HOME!,
    host: env.ATLAS_HOST ?? '127.0.0.1',
    port: env.ATLAS_PORT ? Number(env.ATLAS_PORT) : region.apiPort,
    documentKey: Buffer.from(env.ATLAS_DOCUMENT_KEY!, 'base64'),
    blindIndexKey: env.ATLAS_BLIND_INDEX_KEY!,
    logLevel: env.LOG_LEVEL ?? 'info',
    bodyLimit: 256 * 1024,
    documentLimit: 10 * 1024 * 1024,
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    probeIntervalMs: env.ATLAS_PROBE_INTERVAL_MS ? Number(env.ATLAS_PROBE_INTERVAL_MS) : 5_000,
    latencyAlertMs: env.ATLAS_LATENCY_ALERT_MS ? Number(env.ATLAS_LATENCY_ALERT_MS) : 200,
    peerUrls: parsePeerUrls(env.ATLAS_PEER_URLS),
    ...(env.ATLAS_ADMIN_DATABASE_URL ? { adminDatabaseUrl: env.ATLAS_ADMIN_DATABASE_URL } : {}),
    replicationPollMs: env.ATLAS_REPLICATION_POLL_MS ? Number(env.ATLAS_REPLICATION_POLL_MS) : 5_000,
    replicationLagAlertSeconds: env.ATLAS_REPLICATION_LAG_ALERT_S ? Number(env.ATLAS_REPLICATION_LAG_ALERT_S) : 1,
  });
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
