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

/** Appends an event; the database numbers, chains and seals it (migration 021). */
export function recordAudit(db: Executor, entry: AuditEntry) {
  // details, seq, prev_hash and hash come from migration 021 (typed in audit-chain.repository).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (db as unknown as Kysely<any>)
    .insertInto('auditEvent')
    .values({
      ...(entry.details ? { details: JSON.stringify(entry.details) } : {}),
      orgId: entry.orgId,
      actor: entry.actor,
      action: entry.action,
      entity: entry.entity,
      entityId: entry.entityId ?? null,
      outcome: entry.outcome ?? 'success',
      sourceIp: entry.sourceIp ?? null,
      requestId: entry.requestId ?? null,
    })
    .execute();
}

export function listAuditEvents(db: Executor, orgId: string, options: { limit: number; before?: string; entity?: string; entityId?: string }) {
  let query = db.selectFrom('auditEvent').selectAll().where('orgId', '=', orgId);
  if (options.entity) query = query.where('entity', '=', options.entity);
  if (options.entityId) query = query.where('entityId', '=', options.entityId);
  if (options.before) query = query.where('id', '<', options.before);
  return query.orderBy('id', 'desc').limit(options.limit + 1).execute();
}
