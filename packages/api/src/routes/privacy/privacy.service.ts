import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { AtlasError, notFound } from '@atlas/core';
import {
  applyErasure,
  findSubjectRows,
  insertLedgerEntry,
  ledgerEntryOf,
  setRestriction,
  withTenant,
  SUBJECT_TABLES,
  type Executor,
  type Subject,
  type SubjectRows,
} from '@atlas/db';
import type { AppContext } from '../../context';
import { emailBlindIndex, normalizeEmail, userIdFor } from '../../lib/blind-index';
import { auditRequest } from '../crm/crm-resource';
import type { ErasureLedgerCopy, RecordedLedgerEntry } from './erasure-ledger.store';

export const REQUEST_TYPES = ['access', 'portability', 'rectification', 'erasure', 'restriction'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

export interface PrivacyRequestInput {
  readonly type: RequestType;
  readonly subject: { readonly userId?: string; readonly email?: string };
  /** Rectification: the corrected values. */
  readonly changes?: { readonly fullName?: string; readonly phone?: string | null };
  /** Restriction: lift it instead of setting it. */
  readonly lift?: boolean;
}

export interface PrivacyRequestRow {
  id: string;
  orgId: string;
  region: string;
  type: RequestType;
  subjectRef: string;
  subjectUserId: string | null;
  status: string;
  requestedBy: string;
  receivedAt: Date;
  dueAt: Date;
  completedAt: Date | null;
  result: Record<string, unknown>;
  export?: unknown;
}

const COLUMNS = sql`id, org_id, region, type, subject_ref, subject_user_id, status, requested_by, received_at, due_at, completed_at, result`;

/** The subject as the organization knows them: by user id (its profile gives the e-mail) or by e-mail. */
async function resolveSubject(ctx: AppContext, tx: Executor, orgId: string, input: PrivacyRequestInput['subject']): Promise<Subject> {
  const key = ctx.config.blindIndexKey;
  if (input.email !== undefined) {
    const email = normalizeEmail(input.email);
    return { orgId, email, userId: userIdFor(key, orgId, email), ref: emailBlindIndex(key, email) };
  }
  const userId = input.userId!;
  const { rows } = await sql<{ email: string }>`SELECT email FROM user_profile WHERE org_id = ${orgId} AND user_id = ${userId}`.execute(tx);
  const email = rows[0]?.email === undefined ? null : normalizeEmail(rows[0].email);
  if (email === null) {
    const { rows: users } = await sql<{ id: string }>`SELECT id FROM app_user WHERE org_id = ${orgId} AND id = ${userId}`.execute(tx);
    if (users.length === 0) throw notFound(`user ${userId} in ${orgId}`);
  }
  return { orgId, email, userId, ref: email === null ? userId : emailBlindIndex(key, email) };
}

function countsOf(found: SubjectRows): Record<string, number> {
  return Object.fromEntries(SUBJECT_TABLES.map((t) => [t, found[t].length]));
}

/** The machine-readable export (art. 15 and 20): every table that holds the subject. */
export function exportOf(ctx: AppContext, subject: Subject, requestId: string, found: SubjectRows) {
  return {
    format: 'atlas-subject-export/1',
    requestId,
    organization: subject.orgId,
    region: ctx.config.region.id,
    generatedAt: new Date().toISOString(),
    subject: { ref: subject.ref, userId: subject.userId },
    tables: found,
  };
}

/**
 * Receives and processes a request in the organization's home region, in one tenant
 * transaction: the request row, the work, its audit event.
 *
 * Erasure, in this order, all before the commit: the erasure_ledger row (which gives the
 * entry its id), the erasure itself, the ledger's off-database copy (`ledger`: the region's
 * bucket, or the local file), then the document bodies. So a committed erasure always has its
 * copy, and a copy that cannot be written rolls the whole erasure back (503, retry) before
 * any body is gone. If anything fails after the copy was written, the copy is withdrawn
 * unless the erasure turns out to have committed; a copy that cannot be withdrawn is logged
 * at error level with its id, and a restore would replay it (it only ever names a subject a
 * DPO asked to erase). Cache entries are dropped after the commit.
 */
export async function processPrivacyRequest(
  ctx: AppContext,
  ledger: ErasureLedgerCopy,
  request: FastifyRequest,
  orgId: string,
  input: PrivacyRequestInput,
): Promise<PrivacyRequestRow> {
  const requestedBy = request.principal?.userId ?? 'anonymous';
  const after: Array<() => Promise<void>> = [];
  let copied: string | undefined;
  const transaction = withTenant(ctx.db.db, orgId, async (tx) => {
    const subject = await resolveSubject(ctx, tx, orgId, input.subject);
    const { rows } = await sql<{ id: string }>`
      INSERT INTO privacy_request (org_id, type, subject_ref, subject_user_id, status, requested_by)
      VALUES (${orgId}, ${input.type}, ${subject.ref}, ${subject.userId}, 'processing', ${requestedBy}) RETURNING id`.execute(tx);
    const id = rows[0]!.id;
    const found = await findSubjectRows(tx, subject);
    let result: Record<string, unknown> = { found: countsOf(found) };
    let exported: unknown = null;
    switch (input.type) {
      case 'access':
      case 'portability':
        exported = exportOf(ctx, subject, id, found);
        break;
      case 'rectification':
        result = { ...result, rectified: await rectify(tx, subject, found, input.changes ?? {}) };
        break;
      case 'restriction':
        result = { ...result, [input.lift ? 'lifted' : 'restricted']: await setRestriction(tx, found, orgId, !input.lift) };
        break;
      case 'erasure': {
        const entry = (await insertLedgerEntry(tx, ledgerEntryOf(subject, found, id))) as RecordedLedgerEntry;
        result = { ...result, erased: await applyErasure(tx, entry), ledgerId: entry.id };
        await ledger.append(entry);
        copied = entry.id;
        // Bodies go before the commit: a store that cannot remove them rolls the erasure back
        // (the request can be retried), instead of leaving bodies no row points to any more.
        for (const doc of entry.documentIds) await ctx.documents.delete(orgId, doc);
        after.push(async () => {
          for (const user of entry.userIds) {
            await ctx.cache.invalidate('app_user', user);
            await ctx.cache.invalidate('user_preferences', user);
          }
        });
        break;
      }
    }
    const { rows: done } = await sql<PrivacyRequestRow>`
      UPDATE privacy_request SET status = 'completed', completed_at = now(), result = ${JSON.stringify(result)}::jsonb,
        export = ${exported === null ? null : JSON.stringify(exported)}::jsonb
      WHERE id = ${id} RETURNING ${COLUMNS}`.execute(tx);
    await auditRequest(request, tx, { orgId, action: `privacy.${input.type}`, entity: 'privacy_request', entityId: id, details: { subjectRef: subject.ref, ...result } });
    return done[0]!;
  });
  let row: PrivacyRequestRow;
  try {
    row = await transaction;
  } catch (err) {
    if (copied !== undefined) await withdrawUncommitted(ctx, ledger, request, orgId, copied);
    throw err;
  }
  for (const step of after) await step();
  return row;
}

/**
 * The erasure failed after its ledger copy was written: takes the copy back, unless the
 * erasure committed after all (the commit's answer lost), whose copy must stay.
 */
async function withdrawUncommitted(ctx: AppContext, ledger: ErasureLedgerCopy, request: FastifyRequest, orgId: string, entryId: string): Promise<void> {
  try {
    const { rows } = await withTenant(ctx.db.db, orgId, (tx) => sql<{ id: string }>`SELECT id FROM erasure_ledger WHERE id = ${entryId}`.execute(tx));
    if (rows.length > 0) return;
    await ledger.withdraw(entryId);
    request.log.warn({ ledgerId: entryId, location: ledger.location }, 'erasure rolled back: its ledger copy was withdrawn');
  } catch (err) {
    request.log.error(
      { ledgerId: entryId, location: ledger.location, err },
      'erasure rolled back but its ledger copy may remain: a restore would replay it; remove it once the erasure is retried or abandoned',
    );
  }
}

async function rectify(tx: Executor, subject: Subject, found: SubjectRows, changes: NonNullable<PrivacyRequestInput['changes']>): Promise<number> {
  if (changes.fullName === undefined && changes.phone === undefined) throw new AtlasError('ATLAS_ERR_VALIDATION', 'body/changes: name at least one of fullName, phone');
  let n = 0;
  if (subject.userId !== null && found.user_profile.length > 0) {
    const r = await sql`UPDATE user_profile SET full_name = coalesce(${changes.fullName ?? null}, full_name),
        phone = CASE WHEN ${changes.phone !== undefined} THEN ${changes.phone ?? null} ELSE phone END, updated_at = now()
      WHERE org_id = ${subject.orgId} AND user_id = ${subject.userId}`.execute(tx);
    n += Number(r.numAffectedRows ?? 0);
  }
  const dossierIds = found.dossier.map((d) => String(d.id));
  if (dossierIds.length > 0) {
    const r = await sql`UPDATE dossier SET client_name = coalesce(${changes.fullName ?? null}, client_name),
        client_phone = CASE WHEN ${changes.phone !== undefined} THEN ${changes.phone ?? null} ELSE client_phone END, updated_at = now()
      WHERE org_id = ${subject.orgId} AND id = ANY(${dossierIds}::uuid[])`.execute(tx);
    n += Number(r.numAffectedRows ?? 0);
  }
  return n;
}

export async function findPrivacyRequest(db: Executor, orgId: string, id: string, withExport = false): Promise<PrivacyRequestRow | undefined> {
  // The export as text, parsed here: the query layer's camelCase mapping must not rename the
  // export's own keys (table and column names as stored).
  const { rows } = await sql<PrivacyRequestRow & { exportText?: string | null }>`
    SELECT ${COLUMNS}${withExport ? sql`, export::text AS export_text` : sql``} FROM privacy_request WHERE org_id = ${orgId} AND id = ${id}`.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  const { exportText, ...rest } = row;
  return withExport ? { ...rest, export: exportText ? (JSON.parse(exportText) as unknown) : null } : rest;
}

export async function listPrivacyRequests(db: Executor, orgId: string, limit: number, before?: string): Promise<PrivacyRequestRow[]> {
  const { rows } = await sql<PrivacyRequestRow>`
    SELECT ${COLUMNS} FROM privacy_request WHERE org_id = ${orgId} ${before ? sql`AND id < ${before}` : sql``}
    ORDER BY id DESC LIMIT ${limit + 1}`.execute(db);
  return rows;
}
