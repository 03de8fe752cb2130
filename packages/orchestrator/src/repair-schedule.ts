import { repairGlobalTables, type MeshNode, type RepairOptions, type RepairReport } from '@atlas/db';
import type { Phase } from './core/index';

/**
 * The scheduled anti-entropy pass (ARCHITECTURE.md §2): every interval, compare the global
 * tables of every pair of regions and pull whatever replication skipped, through the
 * conflict rule (repairGlobalTables). It also runs after every failover (the region
 * runner's repair step) and on demand (`atlas replication repair`); this schedule catches
 * what nobody noticed. A pass is skipped while a failover or switchover is in progress (the
 * addresses are moving and the after-failover repair follows anyway); passes never overlap.
 */

/** Default time between the end of one pass and the start of the next: five minutes. */
export const DEFAULT_REPAIR_INTERVAL_MS = 5 * 60_000;
/** The shortest interval accepted (a pass over equal tables costs one query per table and side). */
export const MIN_REPAIR_INTERVAL_MS = 100;

/** Phases during which the pass waits: the primary is being replaced or handed over. */
export const FAILOVER_IN_PROGRESS: ReadonlySet<Phase> = new Set<Phase>(['failed', 'promoting', 'failed-over', 'switching-over']);

export interface RepairScheduleOptions {
  /** The regions' databases as a pass reaches them now; asked before every pass (addresses follow failovers). */
  readonly nodes: () => readonly MeshNode[];
  /** Time between the end of a pass and the start of the next (default DEFAULT_REPAIR_INTERVAL_MS). */
  readonly intervalMs?: number;
  /** Delay before the first pass (default: the interval). */
  readonly firstPassAfterMs?: number;
  /** Why no pass may run now (a failover in progress), or undefined when one may. */
  readonly skipReason?: () => string | undefined;
  readonly repairOptions?: RepairOptions;
  readonly log: (line: string) => void;
}

export interface RepairScheduleStats {
  readonly intervalMs: number;
  /** Passes that ran (successful or not). */
  readonly passes: number;
  /** Passes with at least one pair that could not be compared (a region unreachable, say). */
  readonly failedPasses: number;
  /** Passes skipped because a failover was in progress. */
  readonly skippedPasses: number;
  /** Rows written by the scheduled passes since the schedule started. */
  readonly rowsRepaired: number;
  readonly running: boolean;
  readonly lastPass: {
    readonly at: string;
    readonly durationMs: number;
    readonly rowsRepaired: number;
    readonly ok: boolean;
    readonly errors: readonly string[];
  } | null;
}

export interface RepairSchedule {
  stats(): RepairScheduleStats;
  /** Stops the timer and waits for a pass in progress to finish. */
  stop(): Promise<void>;
}

/** Returns the interval when valid; throws naming the rule otherwise. */
export function checkRepairInterval(ms: number, source = 'repair interval'): number {
  if (!Number.isInteger(ms) || ms < MIN_REPAIR_INTERVAL_MS) {
    throw new Error(`${source}: must be an integer number of milliseconds ≥ ${MIN_REPAIR_INTERVAL_MS}, got ${ms}`);
  }
  return ms;
}

/** The interval from ATLAS_REPAIR_INTERVAL_MS (milliseconds), validated; the default when unset. */
export function repairIntervalFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ATLAS_REPAIR_INTERVAL_MS;
  if (raw === undefined || raw === '') return DEFAULT_REPAIR_INTERVAL_MS;
  return checkRepairInterval(Number(raw), 'ATLAS_REPAIR_INTERVAL_MS');
}

/** The skip reason for a set of regions in the failover state machine: the first one mid-failover. */
export function failoverInProgress(
  regions: Iterable<{ readonly region: string; readonly state: { readonly phase: Phase } }>,
): string | undefined {
  for (const r of regions) {
    if (FAILOVER_IN_PROGRESS.has(r.state.phase)) return `failover in progress in ${r.region} (${r.state.phase})`;
  }
  return undefined;
}

function describePairs(report: RepairReport): string {
  const parts: string[] = [];
  for (const pair of report.pairs) {
    for (const t of pair.tables) {
      const pulled: string[] = [];
      if (t.pulledToA > 0) pulled.push(`${t.pulledToA} → ${pair.a}`);
      if (t.pulledToB > 0) pulled.push(`${t.pulledToB} → ${pair.b}`);
      if (pulled.length > 0) parts.push(`${t.table} ${pair.a}/${pair.b}: ${pulled.join(', ')}`);
    }
  }
  return parts.join('; ');
}

export function startRepairSchedule(options: RepairScheduleOptions): RepairSchedule {
  const intervalMs = checkRepairInterval(options.intervalMs ?? DEFAULT_REPAIR_INTERVAL_MS);
  let passes = 0;
  let failedPasses = 0;
  let skippedPasses = 0;
  let rowsRepaired = 0;
  let lastPass: RepairScheduleStats['lastPass'] = null;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const pass = async (): Promise<void> => {
    const reason = options.skipReason?.();
    if (reason) {
      skippedPasses += 1;
      options.log(`anti-entropy repair (scheduled): skipped, ${reason}`);
      return;
    }
    const nodes = options.nodes();
    if (nodes.length < 2) return;
    const started = Date.now();
    let report: RepairReport;
    try {
      report = await repairGlobalTables(nodes, options.repairOptions);
    } catch (err) {
      // repairGlobalTables reports per pair; a throw here is unexpected, but must not stop the schedule.
      passes += 1;
      failedPasses += 1;
      const message = err instanceof Error ? err.message : String(err);
      lastPass = { at: new Date(started).toISOString(), durationMs: Date.now() - started, rowsRepaired: 0, ok: false, errors: [message] };
      options.log(`anti-entropy repair (scheduled): FAILED: ${message}`);
      return;
    }
    passes += 1;
    rowsRepaired += report.rowsRepaired;
    const errors = report.pairs.flatMap((p) => (p.error === undefined ? [] : [`${p.a}/${p.b}: ${p.error}`]));
    if (!report.ok) failedPasses += 1;
    lastPass = {
      at: new Date(started).toISOString(),
      durationMs: Math.round(report.durationMs),
      rowsRepaired: report.rowsRepaired,
      ok: report.ok,
      errors,
    };
    const detail = report.rowsRepaired > 0 ? ` (${describePairs(report)})` : '';
    options.log(
      `anti-entropy repair (scheduled): ${report.rowsRepaired} rows repaired over ${report.pairs.length} pairs in ${Math.round(report.durationMs)} ms${detail}` +
        (errors.length > 0 ? `; FAILED pairs: ${errors.join('; ')}` : ''),
    );
  };

  const schedule = (delay: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = pass().finally(() => {
        running = undefined;
        schedule(intervalMs);
      });
    }, delay);
    timer.unref();
  };
  schedule(options.firstPassAfterMs ?? intervalMs);

  return {
    stats: () => ({ intervalMs, passes, failedPasses, skippedPasses, rowsRepaired, running: running !== undefined, lastPass }),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

/** Prometheus lines for the scheduled passes (appended to the orchestrator's /metrics). */
export const REPAIR_METRIC_NAMES = [
  'atlas_repair_scheduled_passes_total',
  'atlas_repair_scheduled_failed_passes_total',
  'atlas_repair_scheduled_skipped_passes_total',
  'atlas_repair_scheduled_rows_repaired_total',
  'atlas_repair_scheduled_last_pass_timestamp_seconds',
] as const;

export function renderRepairMetrics(stats: RepairScheduleStats): string[] {
  return [
    '# HELP atlas_repair_scheduled_passes_total Scheduled anti-entropy passes over the global tables that ran.',
    '# TYPE atlas_repair_scheduled_passes_total counter',
    `atlas_repair_scheduled_passes_total ${stats.passes}`,
    '# HELP atlas_repair_scheduled_failed_passes_total Scheduled passes in which a pair of regions could not be compared.',
    '# TYPE atlas_repair_scheduled_failed_passes_total counter',
    `atlas_repair_scheduled_failed_passes_total ${stats.failedPasses}`,
    '# HELP atlas_repair_scheduled_skipped_passes_total Scheduled passes skipped because a failover was in progress.',
    '# TYPE atlas_repair_scheduled_skipped_passes_total counter',
    `atlas_repair_scheduled_skipped_passes_total ${stats.skippedPasses}`,
    '# HELP atlas_repair_scheduled_rows_repaired_total Global rows the scheduled passes restored (missing or older somewhere).',
    '# TYPE atlas_repair_scheduled_rows_repaired_total counter',
    `atlas_repair_scheduled_rows_repaired_total ${stats.rowsRepaired}`,
    '# HELP atlas_repair_scheduled_last_pass_timestamp_seconds When the last scheduled pass started (0: none yet).',
    '# TYPE atlas_repair_scheduled_last_pass_timestamp_seconds gauge',
    `atlas_repair_scheduled_last_pass_timestamp_seconds ${stats.lastPass ? Date.parse(stats.lastPass.at) / 1000 : 0}`,
  ];
}
