import type { Topology } from '@atlas/core';
import type { CloudHealth } from './health.planner';
import { apiHost, type DnsNaming, latencyHost, regionalHost } from './routing.planner';

export type RecordTarget = { readonly kind: 'alb'; readonly region: string } | { readonly kind: 'record'; readonly name: string };

export interface RecordPlan {
  readonly name: string;
  readonly setIdentifier?: string;
  /** ISO country, or `*` for Route 53's default geolocation record. */
  readonly geolocationCountry?: string;
  readonly latencyRegion?: string;
  readonly target: RecordTarget;
  /** Region whose health check guards this record. */
  readonly healthCheckRegion?: string;
}

export interface HealthCheckPlan {
  readonly region: string;
  readonly fqdn: string;
  readonly path: string;
  readonly requestIntervalSeconds: number;
  /** Route 53 uses one threshold for both directions; we take the topology's `downAfter`. */
  readonly failureThreshold: number;
}

export interface Route53Plan {
  readonly healthChecks: readonly HealthCheckPlan[];
  readonly records: readonly RecordPlan[];
}

/**
 * Three layers, each aliasing the next with target-health evaluation:
 * `api` geolocation per country (the country table) → `<code>` regional record (health
 * checked) → ALB. Route 53 skips an unhealthy country record and answers with the `*`
 * default, which aliases `latency`: latency records per region, i.e. "the lowest-latency
 * healthy region" — the same decision order as the local edge (§4 steps 2–4).
 */
export function planRoute53(topology: Topology, health: CloudHealth, naming: DnsNaming, healthPath: string): Route53Plan {
  const codeOf = new Map(topology.regions.map((r) => [r.id, r.code]));
  const regional = (regionId: string): string => regionalHost(naming, codeOf.get(regionId)!);

  const healthChecks = topology.regions.map((r) => ({
    region: r.id,
    fqdn: regional(r.id),
    path: healthPath,
    requestIntervalSeconds: health.intervalSeconds,
    failureThreshold: health.downAfter,
  }));

  const records: RecordPlan[] = [];
  for (const r of topology.regions) {
    records.push({ name: regional(r.id), target: { kind: 'alb', region: r.id }, healthCheckRegion: r.id });
  }
  for (const r of topology.regions) {
    records.push({
      name: latencyHost(naming),
      setIdentifier: `latency-${r.id}`,
      latencyRegion: r.id,
      target: { kind: 'record', name: regional(r.id) },
    });
  }
  for (const country of Object.keys(topology.countryRegions).sort()) {
    records.push({
      name: apiHost(naming),
      setIdentifier: `geo-${country}`,
      geolocationCountry: country,
      target: { kind: 'record', name: regional(topology.countryRegions[country]!) },
    });
  }
  records.push({ name: apiHost(naming), setIdentifier: 'geo-default', geolocationCountry: '*', target: { kind: 'record', name: latencyHost(naming) } });
  return { healthChecks, records };
}
