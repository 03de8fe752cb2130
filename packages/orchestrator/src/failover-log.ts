import { withFreshClient } from '@atlas/db';

export interface FailoverStepRow {
  readonly failoverId: string;
  readonly region: string;
  readonly step: string;
  readonly status: 'started' | 'done' | 'failed' | 'not_run';
  readonly detail: Readonly<Record<string, unknown>>;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
}

/**
 * Records failover steps in the region's failover_event table. During a failover the
 * database is down until the promotion, so rows wait in memory and are written to whichever
 * node is primary once it accepts writes; each row keeps the step's real times.
 */
export class FailoverLog {
  private pending: FailoverStepRow[] = [];
  private readonly recent: FailoverStepRow[] = [];

  constructor(private readonly log: (line: string) => void) {}

  add(row: FailoverStepRow): void {
    this.pending.push(row);
    this.recent.push(row);
    if (this.recent.length > 200) this.recent.shift();
    if (this.pending.length > 1_000) this.pending.shift();
    const ms = row.finishedAt ? ` ${row.finishedAt.getTime() - row.startedAt.getTime()} ms` : '';
    this.log(`${row.region} [${row.failoverId}] ${row.step}: ${row.status}${ms}${row.detail.error ? ` — ${String(row.detail.error)}` : ''}`);
  }

  /** The last steps, newest last (for the status view and the tests). */
  steps(failoverId?: string): readonly FailoverStepRow[] {
    return failoverId ? this.recent.filter((r) => r.failoverId === failoverId) : [...this.recent];
  }

  /** Writes pending rows to `primaryUrl`; keeps them when it cannot (retried on the next flush). */
  async flush(primaryUrl: string): Promise<boolean> {
    if (this.pending.length === 0) return true;
    const rows = this.pending;
    try {
      await withFreshClient(primaryUrl, 2_000, async (c) => {
        await c.query('BEGIN');
        // An operational log must not wait for a standby that may be the very thing that failed.
        await c.query('SET LOCAL synchronous_commit = local');
        for (const r of rows) {
          await c.query(
            'INSERT INTO failover_event (failover_id, region, step, status, detail, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
            [r.failoverId, r.region, r.step, r.status, JSON.stringify(r.detail), r.startedAt, r.finishedAt],
          );
        }
        await c.query('COMMIT');
      });
      this.pending = this.pending.slice(rows.length);
      return true;
    } catch {
      return false;
    }
  }
}
