import { AtlasError } from '@atlas/core';
import { recordAudits, setTenant, type AtlasDb, type AuditEntry } from '@atlas/db';

/** What the batcher reports, for metrics (plugins count them; tests read them). */
export interface AuditBatcherEvents {
  /** A batch committed: how many events it held and how long its transaction took. */
  flushed?(events: number, seconds: number): void;
  /** An event refused because the queue was full (the request failed with 503). */
  rejected?(): void;
  /** A batch's transaction failed (every request in it failed). */
  failed?(events: number, err: unknown): void;
}

export interface AuditBatcherOptions {
  /** Events waiting (queued or being written) beyond which new ones are refused. */
  readonly maxPending: number;
  /** Events written by one transaction at most. */
  readonly maxBatch: number;
}

interface Pending {
  readonly entry: AuditEntry;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Group commit for read-audit events. A read appends its event here and waits until the
 * event is COMMITTED: only then is the data sent, so no read is ever served without its
 * durable audit record, and none is dropped. While one transaction writes a batch (it holds
 * the region's chain lock once, and pays one WAL flush), the next batch gathers; reads no
 * longer queue one by one on the region-wide chain lock (migration 021).
 *
 * Bounded: past `maxPending` waiting events, `append` refuses at once (503 + Retry-After,
 * counted in metrics) rather than letting memory and latency grow without limit. A failed
 * batch fails every request in it: they get a 5xx, not the data.
 */
export class AuditBatcher {
  private queue: Pending[] = [];
  private inFlight = 0;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly db: AtlasDb,
    private readonly options: AuditBatcherOptions,
    private readonly events: AuditBatcherEvents = {},
  ) {}

  /** Events queued or being written right now. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Resolves once the event is committed in the audit chain; rejects if it could not be. */
  append(entry: AuditEntry): Promise<void> {
    if (this.closed) return Promise.reject(new AtlasError('ATLAS_ERR_NOT_READY', 'the server is shutting down', { 'retry-after': '1' }));
    if (this.pending >= this.options.maxPending) {
      this.events.rejected?.();
      return Promise.reject(
        new AtlasError('ATLAS_ERR_REGION_UNAVAILABLE', 'the audit trail is saturated: this read cannot be recorded now; retry in 1 s', { 'retry-after': '1' }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.flushing ??= this.drain();
    });
  }

  /** Writes what is queued and refuses new events. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
  }

  private async drain(): Promise<void> {
    // Let the requests that are being handled in this same turn of the event loop join.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        this.inFlight = batch.length;
        const started = performance.now();
        try {
          await this.write(batch.map((p) => p.entry));
          this.events.flushed?.(batch.length, (performance.now() - started) / 1000);
          for (const p of batch) p.resolve();
        } catch (err) {
          this.events.failed?.(batch.length, err);
          for (const p of batch) p.reject(err);
        } finally {
          this.inFlight = 0;
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** One transaction: each organization's events under its own tenant (row-level security). */
  private async write(entries: readonly AuditEntry[]): Promise<void> {
    const byOrg = new Map<string, AuditEntry[]>();
    for (const e of entries) {
      const list = byOrg.get(e.orgId);
      if (list) list.push(e);
      else byOrg.set(e.orgId, [e]);
    }
    await this.db.db.transaction().execute(async (tx) => {
      for (const [orgId, list] of byOrg) {
        await setTenant(tx, orgId);
        await recordAudits(tx, list);
      }
    });
  }
}
