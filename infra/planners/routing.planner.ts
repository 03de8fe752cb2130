import type { Topology } from '@atlas/core';

/**
 * Shared routing order for both DNS layers. Derived only from the topology's measured
 * round trips, so Cloudflare, Route 53 and the local edge agree on "the next region".
 */

/** The region itself first, then the others by round trip from it (ties by id, for stability). */
export function failoverOrder(topology: Topology, regionId: string): string[] {
  const others = topology.regions.map((r) => r.id).filter((id) => id !== regionId);
  const rtt = (to: string): number => topology.rttMs[regionId]?.[to] ?? Number.POSITIVE_INFINITY;
  others.sort((a, b) => rtt(a) - rtt(b) || a.localeCompare(b));
  return [regionId, ...others];
}

/**
 * Regions ordered by mean round trip to all the others: the most central region first. Used
 * for traffic from countries the table does not list, where no home region is known.
 */
export function centralityOrder(topology: Topology): string[] {
  const ids = topology.regions.map((r) => r.id);
  const mean = (id: string): number => {
    const others = ids.filter((o) => o !== id);
    if (others.length === 0) return 0;
    return others.reduce((sum, o) => sum + (topology.rttMs[id]?.[o] ?? Number.POSITIVE_INFINITY), 0) / others.length;
  };
  return [...ids].sort((a, b) => mean(a) - mean(b) || a.localeCompare(b));
}

/** DNS names shared by the Route 53 and Cloudflare plans. */
export interface DnsNaming {
  /** Route 53 zone apex, e.g. `origin.atlas.example`. */
  readonly domain: string;
}

/** The per-region origin name; Cloudflare pools and the ALB certificate use it too. */
export function regionalHost(naming: DnsNaming, code: string): string {
  return `${code}.${naming.domain}`;
}

export function apiHost(naming: DnsNaming): string {
  return `api.${naming.domain}`;
}

export function latencyHost(naming: DnsNaming): string {
  return `latency.${naming.domain}`;
}
