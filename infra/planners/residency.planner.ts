import type { Jurisdiction, Topology } from '@atlas/core';

export class ResidencyError extends Error {
  override readonly name = 'ResidencyError';
}

/**
 * The jurisdiction an AWS region physically sits in, from its partition prefix. Only the
 * prefixes Atlas has a legal assessment for are listed; any other region is refused rather
 * than guessed, so a new region forces a deliberate decision here.
 */
const PREFIX_JURISDICTION: ReadonlyArray<readonly [string, Jurisdiction]> = [
  ['eu-', 'EU'],
  ['us-', 'US'],
  ['ap-', 'APAC'],
];

export function jurisdictionOfAwsRegion(awsRegion: string): Jurisdiction {
  const hit = PREFIX_JURISDICTION.find(([prefix]) => awsRegion.startsWith(prefix));
  if (!hit) throw new ResidencyError(`AWS region ${awsRegion} has no jurisdiction mapping; add one in residency.planner.ts after legal review`);
  return hit[1];
}

/**
 * The topology declares each region's jurisdiction; the AWS region id says where the
 * hardware is. They must agree, or "EU data only in the EU" would rest on a typo.
 */
export function assertTopologyResidency(topology: Topology): void {
  for (const region of topology.regions) {
    const physical = jurisdictionOfAwsRegion(region.id);
    if (physical !== region.jurisdiction) {
      throw new ResidencyError(`${region.id} is declared ${region.jurisdiction} but is physically in ${physical}`);
    }
  }
}

/** Throws unless a store holding `dataJurisdiction` data may be placed in `awsRegion`. */
export function assertPlacement(dataJurisdiction: Jurisdiction, awsRegion: string, what: string): void {
  const physical = jurisdictionOfAwsRegion(awsRegion);
  if (physical !== dataJurisdiction) {
    throw new ResidencyError(`${what}: ${dataJurisdiction} data cannot be stored in ${awsRegion} (${physical}); rule R1`);
  }
}
