import { Counter, Histogram, type Registry } from 'prom-client';
import type { AuditBatcherEvents } from '../lib/audit-batcher';

/** Metrics of the read-audit group commit, in the app's registry. */
export function auditBatcherMetrics(registry: Registry, region: string, onFailure: (err: unknown) => void): AuditBatcherEvents {
  const batchSize = new Histogram({
    name: 'atlas_audit_read_batch_events',
    help: 'Read-audit events committed per transaction',
    labelNames: ['region'],
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: 'atlas_audit_read_batch_seconds',
    help: 'Duration of one read-audit batch transaction',
    labelNames: ['region'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'atlas_audit_read_refused_total',
    help: 'Reads refused because their audit event could not be recorded (reason: queue_full or write_failed)',
    labelNames: ['region', 'reason'],
    registers: [registry],
  });
  return {
    flushed(events, seconds) {
      batchSize.observe({ region }, events);
      batchSeconds.observe({ region }, seconds);
    },
    rejected() {
      refused.inc({ region, reason: 'queue_full' });
    },
    failed(events, err) {
      refused.inc({ region, reason: 'write_failed' }, events);
      onFailure(err);
    },
  };
}

/** Counts rate-limit decisions taken in-process because Redis did not answer (logged at most once a minute). */
export function rateLimitFallbackMetric(registry: Registry, region: string, log: (err: unknown) => void): (err: unknown) => void {
  const fallbacks = new Counter({
    name: 'atlas_rate_limit_redis_fallback_total',
    help: 'Rate-limit decisions taken by the in-process bucket because Redis did not answer',
    labelNames: ['region'],
    registers: [registry],
  });
  let lastLog = 0;
  return (err) => {
    fallbacks.inc({ region });
    if (Date.now() - lastLog > 60_000) {
      lastLog = Date.now();
      log(err);
    }
  };
}
