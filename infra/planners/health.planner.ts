import type { Topology } from '@atlas/core';

/** Health-check settings as the cloud services take them. */
export interface CloudHealth {
  readonly intervalSeconds: number;
  /** Failed checks in a row before a region is taken out (topology `downAfter`). */
  readonly downAfter: number;
  /** Good checks in a row before it is put back (topology `upAfter`). */
  readonly upAfter: number;
}

export interface CloudHealthOverride {
  /**
   * The topology's interval is tuned for the local cluster (1 s, so tests fail over fast);
   * AWS and Cloudflare probe from many locations, so a 1 s interval would multiply load on
   * every origin. The deployed interval is therefore always stated explicitly (30 s, as in
   * the seed), while the thresholds stay the topology's, so both environments count the
   * same number of failures before acting.
   */
  readonly intervalSeconds: number;
}

export class HealthPlanError extends Error {
  override readonly name = 'HealthPlanError';
}

/** Route 53 accepts only these request intervals. */
export const ROUTE53_INTERVALS = [10, 30] as const;
/** Route 53's failure threshold range. */
const ROUTE53_MAX_THRESHOLD = 10;

export function planCloudHealth(topology: Topology, override: CloudHealthOverride): CloudHealth {
  const { downAfter, upAfter } = topology.health;
  if (!(ROUTE53_INTERVALS as readonly number[]).includes(override.intervalSeconds)) {
    throw new HealthPlanError(`health interval ${override.intervalSeconds}s: Route 53 accepts only ${ROUTE53_INTERVALS.join(' or ')} s`);
  }
  if (downAfter > ROUTE53_MAX_THRESHOLD || upAfter > ROUTE53_MAX_THRESHOLD) {
    throw new HealthPlanError(`health thresholds down=${downAfter} up=${upAfter}: Route 53 accepts 1..${ROUTE53_MAX_THRESHOLD}`);
  }
  return Object.freeze({ intervalSeconds: override.intervalSeconds, downAfter, upAfter });
}
