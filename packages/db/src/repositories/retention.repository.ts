import { sql } from 'kysely';
import type { Executor } from './executor';

/** Days each kind of record is kept; an absent entry is kept indefinitely. */
export interface RetentionPolicy {
  /** Dossiers once closed (won, lost, closed), from their last change. */
  readonly dossierClosedDays?: number;
  /** Activities, from when they occurred. */
  readonly activityDays?: number;
  /** Documents (row and body), from their creation. */
  readonly documentDays?: number;
  /** Access/portability exports kept for the subject to fetch, from completion. */
  readonly privacyExportDays?: number;
}

export interface PurgeCounts {
  readonly dossier: number;
  readonly activity: number;
  readonly document: number;
  readonly privacyExport: number;
  /** Documents deleted: their bodies must go from the document store too. */
  readonly documentIds: readonly string[];
}

const cutoff = (now: Date, days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();

/**
 * Deletes one organization's records past their retention period (run under its tenant).
 * Restricted records (GDPR art. 18) are kept: a restriction suspends processing, deletion
 * included, until it is lifted.
 */
export async function purgeExpired(db: Executor, orgId: string, policy: RetentionPolicy, now: Date): Promise<PurgeCounts> {
  let documentIds: string[] = [];
  let dossier = 0;
  let activity = 0;
  let privacyExport = 0;
  if (policy.documentDays !== undefined) {
    const { rows } = await sql<{ id: string }>`
      DELETE FROM document WHERE org_id = ${orgId} AND created_at < ${cutoff(now, policy.documentDays)} AND restricted_at IS NULL RETURNING id`.execute(db);
    documentIds = rows.map((r) => r.id);
  }
  if (policy.activityDays !== undefined) {
    const r = await sql`DELETE FROM activity WHERE org_id = ${orgId} AND occurred_at < ${cutoff(now, policy.activityDays)} AND restricted_at IS NULL`.execute(db);
    activity = Number(r.numAffectedRows ?? 0);
  }
  if (policy.dossierClosedDays !== undefined) {
    const r = await sql`
      DELETE FROM dossier d WHERE d.org_id = ${orgId} AND d.status IN ('won', 'lost', 'closed')
        AND d.updated_at < ${cutoff(now, policy.dossierClosedDays)} AND d.restricted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM activity a WHERE a.dossier_id = d.id AND a.restricted_at IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM document x WHERE x.dossier_id = d.id AND x.restricted_at IS NOT NULL)`.execute(db);
    dossier = Number(r.numAffectedRows ?? 0);
  }
  if (policy.privacyExportDays !== undefined) {
    const r = await sql`
      UPDATE privacy_request SET export = NULL
      WHERE org_id = ${orgId} AND export IS NOT NULL AND completed_at < ${cutoff(now, policy.privacyExportDays)}`.execute(db);
    privacyExport = Number(r.numAffectedRows ?? 0);
  }
  return { dossier, activity, document: documentIds.length, privacyExport, documentIds };
}
