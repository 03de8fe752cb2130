import { describe, expect, it } from 'vitest';
import { loadTopology } from '@atlas/core';
import { bundledCountryDbPath, edgeConfig, edgeConfigFromEnv, EdgeConfigError, openCountryLookup } from '../src/index';

describe('edge configuration', () => {
  it('defaults to port 8080 and every region on loopback at its topology port', () => {
    const config = edgeConfigFromEnv({});
    const topology = loadTopology();
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.upstreams).toEqual(Object.fromEntries(topology.regions.map((r) => [r.id, `http://127.0.0.1:${r.apiPort}`])));
    expect(config.health).toEqual({ ...topology.health, timeoutMs: 800 });
    expect(config.webRoot).toBeNull();
    expect(config.rateLimitHoldMaxSeconds).toBe(60);
    expect(edgeConfigFromEnv({ ATLAS_EDGE_RATE_LIMIT_HOLD_MAX_S: '0' }).rateLimitHoldMaxSeconds).toBe(0);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the port, health settings and proxy trust from the environment', () => {
    const config = edgeConfigFromEnv({
      ATLAS_EDGE_PORT: '9090',
      ATLAS_EDGE_HEALTH_INTERVAL_MS: '30000',
      ATLAS_EDGE_TRUST_PROXY: '1',
      ATLAS_EDGE_COUNTRY_DB: 'off',
    });
    expect(config).toMatchObject({
      port: 9090,
      trustProxy: true,
      countryDbPath: null,
      health: { intervalMs: 30_000, downAfter: 3, upAfter: 2, timeoutMs: 2_000 },
    });
  });

  it.each([
    [{ ATLAS_EDGE_PORT: 'eighty' }, /ATLAS_EDGE_PORT: expected a whole number/],
    [{ ATLAS_EDGE_PORT: '70000' }, /port: not a TCP port/],
    [{ ATLAS_EDGE_TRUST_PROXY: 'yes' }, /ATLAS_EDGE_TRUST_PROXY: 0 or 1 expected/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ ATLAS_EDGE_HEALTH_DOWN_AFTER: '0' }, /health: interval ≥ 10 ms and thresholds ≥ 1/],
    [{ ATLAS_EDGE_RATE_LIMIT_HOLD_MAX_S: '3601' }, /ATLAS_EDGE_RATE_LIMIT_HOLD_MAX_S: at most 3600/],
    [{ ATLAS_EDGE_RATE_LIMIT_HOLD_MAX_S: '-1' }, /ATLAS_EDGE_RATE_LIMIT_HOLD_MAX_S: expected a whole number/],
  ])('refuses %j by name', (env, message) => {
    expect(() => edgeConfigFromEnv(env)).toThrow(EdgeConfigError);
    expect(() => edgeConfigFromEnv(env)).toThrow(message);
  });

  it('refuses an upstream that is not an origin', () => {
    const topology = loadTopology();
    expect(() => edgeConfig(topology, { upstreams: { 'eu-west-1': 'http://127.0.0.1:1/api' } })).toThrow(/upstreams.eu-west-1/);
  });

  it('looks countries up in the bundled DB-IP database, IPv4, IPv6 and mapped IPv4 alike', () => {
    const lookup = openCountryLookup(bundledCountryDbPath());
    expect(lookup('81.2.69.160')).toBe('GB');
    expect(lookup('::ffff:8.8.8.8')).toBe('US');
    expect(lookup('2a01:e0a::1')).toBe('FR');
    expect(lookup('127.0.0.1')).toBeNull();
    expect(lookup('not an ip')).toBeNull();
  });
});
