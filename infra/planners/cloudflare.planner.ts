import type { Topology } from '@atlas/core';
import type { CloudHealth } from './health.planner';
import { centralityOrder, type DnsNaming, failoverOrder, regionalHost } from './routing.planner';

export interface PoolPlan {
  readonly region: string;
  readonly name: string;
  /** Origin host: the region's Route 53 name, which aliases its ALB. */
  readonly originAddress: string;
}

export interface MonitorPlan {
  readonly type: 'https';
  readonly path: string;
  readonly expectedCodes: '200';
  readonly intervalSeconds: number;
  readonly consecutiveDown: number;
  readonly consecutiveUp: number;
  /** Seconds; kept below the interval so a slow origin cannot overlap two probes. */
  readonly timeoutSeconds: number;
}

export interface CloudflarePlan {
  readonly monitor: MonitorPlan;
  readonly pools: readonly PoolPlan[];
  /** ISO country → pool regions, the home region first, then failover by round trip. */
  readonly countryPools: Readonly<Record<string, readonly string[]>>;
  /** For countries the table does not list: most central region first. */
  readonly defaultPools: readonly string[];
  readonly fallbackPool: string;
}

export interface CloudflarePlanInput {
  readonly topology: Topology;
  readonly health: CloudHealth;
  readonly naming: DnsNaming;
  readonly healthPath: string;
  readonly stack: string;
}

/**
 * Geo steering from the same country table the local edge uses. Listing every pool after the
 * home pool keeps global-data traffic flowing when a region is down (architecture §4.6);
 * regional data stays safe because the receiving region answers 421/503 for data it does not
 * own (rule R2) — the CDN never decides residency.
 */
export function planCloudflare(input: CloudflarePlanInput): CloudflarePlan {
  const { topology, health, naming } = input;
  const pools = topology.regions.map((r) => ({
    region: r.id,
    name: `atlas-${input.stack}-${r.code}`,
    originAddress: regionalHost(naming, r.code),
  }));
  const countryPools: Record<string, readonly string[]> = {};
  for (const country of Object.keys(topology.countryRegions).sort()) {
    countryPools[country] = failoverOrder(topology, topology.countryRegions[country]!);
  }
  const defaultPools = centralityOrder(topology);
  return {
    monitor: {
      type: 'https',
      path: input.healthPath,
      expectedCodes: '200',
      intervalSeconds: health.intervalSeconds,
      consecutiveDown: health.downAfter,
      consecutiveUp: health.upAfter,
      timeoutSeconds: Math.min(5, health.intervalSeconds - 1),
    },
    pools,
    countryPools,
    defaultPools,
    fallbackPool: defaultPools[0]!,
  };
}
