import { PHASES } from './core/index';
import type { Orchestrator } from './daemon';
import { REPAIR_METRIC_NAMES, renderRepairMetrics } from './repair-schedule';

/** The metrics the orchestrator exposes on GET /metrics of its control port (Prometheus text format). */
export const ORCHESTRATOR_METRIC_NAMES = [
  'atlas_failovers_total',
  'atlas_sync_replication_suspended',
  'atlas_failover_phase',
  ...REPAIR_METRIC_NAMES,
] as const;

export function renderMetrics(orchestrator: Orchestrator): string {
  const regions = [...orchestrator.runners.values()];
  const lines = [
    '# HELP atlas_failovers_total Promotions of a standby (unplanned failovers and planned switchovers) since the orchestrator started.',
    '# TYPE atlas_failovers_total counter',
    ...regions.map((r) => `atlas_failovers_total{region="${r.region}"} ${r.promotions}`),
    '# HELP atlas_sync_replication_suspended 1 while commits do not wait for a synchronous standby: the zero-loss promise is suspended.',
    '# TYPE atlas_sync_replication_suspended gauge',
    ...regions.map((r) => `atlas_sync_replication_suspended{region="${r.region}"} ${r.status().zeroLoss === 'suspended' ? 1 : 0}`),
    '# HELP atlas_failover_phase 1 for the phase of the failover state machine each region is in.',
    '# TYPE atlas_failover_phase gauge',
    ...regions.flatMap((r) => PHASES.map((p) => `atlas_failover_phase{region="${r.region}",phase="${p}"} ${r.state.phase === p ? 1 : 0}`)),
    ...renderRepairMetrics(orchestrator.repairSchedule.stats()),
  ];
  return `${lines.join('\n')}\n`;
}
