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
}

export function recordAudit(db: Executor, entry: AuditEntry) {
  return db
    .insertInto('auditEvent')
    .values({
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
