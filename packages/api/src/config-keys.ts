/**
 * Every environment variable the regional API process reads: the one list that the config
 * loader (config.ts, security/security-config.ts, lib/cache.ts) and the deployment (the ECS
 * task definition in infra/components/ecs.component.ts) both follow. Free of imports so the
 * Pulumi program can load it without pulling in the server.
 *
 * `need`: 'required' — start-up fails without it; 'database' — required as one of the two
 * database forms (DATABASE_URL, or host/name/user/password parts); 'optional' — has a default.
 * `secret`: key material or credentials; a deployment must inject it from a secret store
 * (ECS `secrets`/`valueFrom`), never as a plain value.
 */
export interface ApiEnvSpec {
  readonly need: 'required' | 'database' | 'optional';
  readonly secret: boolean;
  readonly description: string;
}

export const API_ENV = {
  ATLAS_REGION: { need: 'required', secret: false, description: 'region id of this process (a topology region)' },
  ATLAS_HOME: { need: 'required', secret: false, description: 'writable directory for the erasure ledger file and document bodies, both unless ATLAS_DOCUMENTS_BUCKET is set' },
  ATLAS_TOPOLOGY: { need: 'optional', secret: false, description: 'topology file; default config/topology.json' },
  DATABASE_URL: { need: 'database', secret: true, description: 'postgres:// URL of the region database (application role)' },
  ATLAS_DB_HOST: { need: 'database', secret: false, description: 'database host, when DATABASE_URL is not given' },
  ATLAS_DB_PORT: { need: 'optional', secret: false, description: 'database port with ATLAS_DB_HOST; default 5432' },
  ATLAS_DB_NAME: { need: 'database', secret: false, description: 'database name with ATLAS_DB_HOST' },
  ATLAS_DB_USER: { need: 'database', secret: false, description: 'database user with ATLAS_DB_HOST (the application role, atlas_app)' },
  ATLAS_DB_PASSWORD: { need: 'database', secret: true, description: 'database password with ATLAS_DB_HOST' },
  ATLAS_DB_SSLMODE: { need: 'optional', secret: false, description: 'sslmode with ATLAS_DB_HOST: disable, no-verify, require, verify-ca, verify-full' },
  ATLAS_DB_SSLROOTCERT: { need: 'optional', secret: false, description: 'CA bundle file for verify-ca / verify-full' },
  ATLAS_ADMIN_DATABASE_URL: { need: 'optional', secret: true, description: 'superuser URL for replication status, management and migrations' },
  ATLAS_ADMIN_DB_USER: { need: 'optional', secret: false, description: 'with ATLAS_DB_HOST: admin user, builds ATLAS_ADMIN_DATABASE_URL' },
  ATLAS_ADMIN_DB_PASSWORD: { need: 'optional', secret: true, description: 'with ATLAS_ADMIN_DB_USER: admin password' },
  ATLAS_DOCUMENT_KEY: { need: 'required', secret: true, description: 'AES-256 key (base64, 32 bytes) for document bodies at rest' },
  ATLAS_DOCUMENTS_BUCKET: { need: 'optional', secret: false, description: "the region's S3 bucket for sealed document bodies and the erasure ledger (ledger/<region>/); ATLAS_HOME/<region> when absent" },
  ATLAS_DOCUMENTS_S3_ENDPOINT: { need: 'optional', secret: false, description: 'with ATLAS_DOCUMENTS_BUCKET: an S3-compatible endpoint URL instead of AWS S3 (tests, MinIO)' },
  ATLAS_DOCUMENTS_S3_PATH_STYLE: { need: 'optional', secret: false, description: 'with ATLAS_DOCUMENTS_BUCKET: 1 addresses the bucket in the path (endpoint/bucket/key), as most S3-compatible servers need' },
  ATLAS_BLIND_INDEX_KEY: { need: 'required', secret: true, description: 'key of the e-mail blind index, the same in every region' },
  ATLAS_AUTH_PUBLIC_KEY: { need: 'required', secret: false, description: 'Ed25519 public JWK that verifies API tokens' },
  ATLAS_AUTH_SIGNING_KEY: { need: 'optional', secret: true, description: 'Ed25519 private JWK; required with ATLAS_DEV_AUTH=1' },
  ATLAS_DEV_AUTH: { need: 'optional', secret: false, description: '1 serves POST /api/auth/dev-token (local only)' },
  ATLAS_AUDIT_SIGNING_KEY: { need: 'required', secret: true, description: 'Ed25519 private JWK that signs audit checkpoints' },
  ATLAS_AUDIT_CHECKPOINT_MS: { need: 'optional', secret: false, description: 'audit checkpoint interval; 0 turns it off' },
  ATLAS_AUDIT_QUEUE_MAX: { need: 'optional', secret: false, description: 'audit events held in memory before writes are refused' },
  ATLAS_AUDIT_BATCH_MAX: { need: 'optional', secret: false, description: 'audit events written per batch' },
  ATLAS_TOKEN_TTL_SECONDS: { need: 'optional', secret: false, description: 'lifetime of issued tokens' },
  ATLAS_OPERATOR_ORG: { need: 'optional', secret: false, description: 'organization whose admins may call region-wide admin routes' },
  ATLAS_CORS_ORIGINS: { need: 'optional', secret: false, description: 'comma-separated browser origins' },
  ATLAS_RATE_LIMIT_IP: { need: 'optional', secret: false, description: '<requests>/<seconds> per client IP' },
  ATLAS_RATE_LIMIT_ORG: { need: 'optional', secret: false, description: '<requests>/<seconds> per organization' },
  ATLAS_RATE_LIMIT_HOLD_MAX_S: { need: 'optional', secret: false, description: "longest a refused client's connection is left unread after a 429 (its Retry-After); 0 turns it off; default 60" },
  ATLAS_RETENTION: { need: 'optional', secret: false, description: 'retention policy JSON' },
  ATLAS_PURGE_INTERVAL_MS: { need: 'optional', secret: false, description: 'retention purge interval; 0 turns it off' },
  ATLAS_HOST: { need: 'optional', secret: false, description: 'listen address; default 127.0.0.1' },
  ATLAS_PORT: { need: 'optional', secret: false, description: "listen port; default the region's apiPort" },
  ATLAS_PEER_URLS: { need: 'optional', secret: false, description: 'JSON object region id → base URL of the other regions' },
  ATLAS_PROBE_INTERVAL_MS: { need: 'optional', secret: false, description: 'cross-region latency probe interval' },
  ATLAS_LATENCY_ALERT_MS: { need: 'optional', secret: false, description: 'round trip above which a latency alert is raised' },
  ATLAS_REPLICATION_POLL_MS: { need: 'optional', secret: false, description: 'replication status polling interval' },
  ATLAS_REPLICATION_LAG_ALERT_S: { need: 'optional', secret: false, description: 'replication lag that records a high-lag event' },
  ATLAS_DR_REGIONS: { need: 'optional', secret: true, description: 'JSON: regions this one is the DR partner of → { databaseUrl, documentKey } of their standby here' },
  ATLAS_CACHE_STREAM_URL: { need: 'optional', secret: true, description: "postgres:// URL of the cache-invalidation stream's role (atlas_cache_stream: REPLICATION, no table grants); without it or ATLAS_CACHE_STREAM_PASSWORD global rows are not cached" },
  ATLAS_CACHE_STREAM_USER: { need: 'optional', secret: false, description: 'with ATLAS_CACHE_STREAM_PASSWORD: the stream role; default atlas_cache_stream' },
  ATLAS_CACHE_STREAM_PASSWORD: { need: 'optional', secret: true, description: "the stream role's password, on the API's database server (DATABASE_URL's or ATLAS_DB_HOST's)" },
  REDIS_URL: { need: 'optional', secret: false, description: 'redis:// or rediss:// URL of the global-row cache; in-process LRU when absent' },
  REDIS_PASSWORD: { need: 'optional', secret: true, description: 'Redis AUTH token, when not in REDIS_URL' },
  LOG_LEVEL: { need: 'optional', secret: false, description: 'fatal, error, warn, info, debug, trace or silent' },
} as const satisfies Record<string, ApiEnvSpec>;

export type ApiEnvName = keyof typeof API_ENV;

export const API_ENV_NAMES = Object.keys(API_ENV) as ApiEnvName[];

/** The two accepted ways to name the region database. */
export const DATABASE_URL_FORM: readonly ApiEnvName[] = ['DATABASE_URL'];
export const DATABASE_PARTS_FORM: readonly ApiEnvName[] = ['ATLAS_DB_HOST', 'ATLAS_DB_NAME', 'ATLAS_DB_USER', 'ATLAS_DB_PASSWORD'];

/**
 * The variables a process given `provided` would still lack to start: every 'required' one,
 * and the database parts unless DATABASE_URL is given.
 */
export function missingApiEnv(provided: Iterable<string>): ApiEnvName[] {
  const have = new Set(provided);
  const missing = API_ENV_NAMES.filter((name) => API_ENV[name].need === 'required' && !have.has(name));
  if (!DATABASE_URL_FORM.every((n) => have.has(n))) missing.push(...DATABASE_PARTS_FORM.filter((n) => !have.has(n)));
  return missing;
}
