import type { Kysely } from 'kysely';
import type { Executor } from './executor';

export interface AuditEntry {
  readonly orgId: string;
  readonly actor: string;
  readonly action: string;
  readonly entity: string;
  readonly entityId?: string | null;
  readonly outcome?: string;
  readonly sourceIp?: string | null;
  readonly requestId?: string | null;
  /** Ids and counts that say more about the event; never personal data. */
  readonly details?: Readonly<Record<string, unknown>>;
}

function auditRow(entry: AuditEntry) {
  return {
    // Always present (the column default is '{}'), so that every row of a multi-row insert has the same columns.
    details: JSON.stringify(entry.details ?? {}),
    orgId: entry.orgId,
    actor: entry.actor,
    action: entry.action,
    entity: entry.entity,
    entityId: entry.entityId ?? null,
    outcome: entry.outcome ?? 'success',
    sourceIp: entry.sourceIp ?? null,
    requestId: entry.requestId ?? null,
  };
}

/** Appends an event; the database numbers, chains and seals it (migration 021). */
export function recordAudit(db: Executor, entry: AuditEntry) {
  return recordAudits(db, [entry]);
}

/**
 * Appends several events in one statement, chained in array order. Under row-level security
 * every entry must belong to the transaction's tenant.
 */
export async function recordAudits(db: Executor, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  // details, seq, prev_hash and hash come from migration 021 (typed in audit-chain.repository).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  await (db as unknown as Kysely<any>).insertInto('auditEvent').values(entries.map(auditRow)).execute();
}

export function listAuditEvents(db: Executor, orgId: string, options: { limit: number; before?: string; entity?: string; entityId?: string }) {
  let query = db.selectFrom('auditEvent').selectAll().where('orgId', '=', orgId);
  if (options.entity) query = query.where('entity', '=', options.entity);
  if (options.entityId) query = query.where('entityId', '=', options.entityId);
  if (options.before) query = query.where('id', '<', options.before);
  return query.orderBy('id', 'desc').limit(options.limit + 1).execute();
}
