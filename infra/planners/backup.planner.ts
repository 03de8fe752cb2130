import type { Topology } from '@atlas/core';
import { jurisdictionOfAwsRegion, ResidencyError } from './residency.planner';

export interface BackupCopyPlan {
  readonly source: string;
  /** Regions receiving a copy of every recovery point; empty means backups stay in-region. */
  readonly targets: readonly string[];
}

/**
 * Where each region's backups are copied. A copy is a second home for regional data, so rule
 * R1 limits targets to the source's own jurisdiction (checked against the physical AWS region,
 * not only the declared one). The DR partner comes first because a restore there is what a
 * regional failover needs; other same-jurisdiction regions follow. A region alone in its
 * jurisdiction gets no copy at all rather than one abroad.
 */
export function planBackupCopies(topology: Topology, maxCopies = 1): BackupCopyPlan[] {
  return topology.regions.map((source) => {
    const home = jurisdictionOfAwsRegion(source.id);
    const candidates = topology.regions
      .filter((r) => r.id !== source.id && jurisdictionOfAwsRegion(r.id) === home && r.jurisdiction === source.jurisdiction)
      .map((r) => r.id)
      .sort((a, b) => rank(a) - rank(b) || (topology.rttMs[source.id]?.[a] ?? Infinity) - (topology.rttMs[source.id]?.[b] ?? Infinity));
    return { source: source.id, targets: candidates.slice(0, maxCopies) };

    function rank(id: string): number {
      return id === source.drPartner ? 0 : 1;
    }
  });
}

/** Defence in depth for components: refuses a copy target outside the source's jurisdiction. */
export function assertCopyTarget(source: string, target: string): void {
  if (jurisdictionOfAwsRegion(source) !== jurisdictionOfAwsRegion(target)) {
    throw new ResidencyError(`backup copy ${source} → ${target} would leave ${jurisdictionOfAwsRegion(source)}; rule R1`);
  }
}
