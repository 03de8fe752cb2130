import { createHmac } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { createDb } from '../kysely';
import type { Executor } from './executor';

/**
 * A data subject inside one organization: a user (by id) and/or a person known by e-mail
 * (a dossier's client). `ref` is pseudonymous (a keyed hash of the e-mail, or the user id).
 */
export interface Subject {
  readonly orgId: string;
  readonly ref: string;
  readonly userId: string | null;
  /** Normalized (trimmed, lower-case); null when only a user id is known and has no profile. */
  readonly email: string | null;
}

type Row = Record<string, unknown>;

/** Every table that can hold a subject, in export order. */
export const SUBJECT_TABLES = [
  'user_profile',
  'app_user',
  'user_preferences',
  'dossier',
  'activity',
  'document',
  'audit_event',
] as const;
export type SubjectTable = (typeof SUBJECT_TABLES)[number];
export type SubjectRows = Record<SubjectTable, Row[]>;

async function rows(db: Executor, query: ReturnType<typeof sql>): Promise<Row[]> {
  return (await query.execute(db)).rows as Row[];
}

/**
 * The subject's rows in every table of the home region, read under the request's tenant.
 * Profiles and dossiers match the e-mail whatever its case or surrounding white space (a NULL
 * e-mail matches nothing); activities and documents
 * follow those dossiers; audit events are those about any of these records or by the user.
 */
export async function findSubjectRows(db: Executor, s: Subject): Promise<SubjectRows> {
  const userId = s.userId ?? '';
  // atlas_normalize_email (migration 023): case and surrounding white space, on both sides.
  const profile = await rows(
    db,
    sql`SELECT * FROM user_profile WHERE org_id = ${s.orgId} AND (user_id = ${userId} OR atlas_normalize_email(email) = atlas_normalize_email(${s.email})) ORDER BY user_id`,
  );
  const userIds = [...new Set([userId, ...profile.map((p) => String(p.userId))].filter((u) => u !== ''))];
  const appUser = await rows(db, sql`SELECT id, org_id, role, created_at, updated_at, tombstone FROM app_user WHERE org_id = ${s.orgId} AND id = ANY(${userIds}) ORDER BY id`);
  const preferences = await rows(db, sql`SELECT user_id, locale, timezone, theme, preferred_region, updated_at, tombstone FROM user_preferences WHERE user_id = ANY(${userIds}) ORDER BY user_id`);
  const dossiers = await rows(
    db,
    sql`SELECT * FROM dossier WHERE org_id = ${s.orgId} AND client_email IS NOT NULL AND atlas_normalize_email(client_email) = atlas_normalize_email(${s.email}) ORDER BY id`,
  );
  const dossierIds = dossiers.map((d) => String(d.id));
  const activities = await rows(db, sql`SELECT * FROM activity WHERE org_id = ${s.orgId} AND dossier_id = ANY(${dossierIds}::uuid[]) ORDER BY id`);
  const documents = await rows(db, sql`SELECT * FROM document WHERE org_id = ${s.orgId} AND dossier_id = ANY(${dossierIds}::uuid[]) ORDER BY id`);
  const about = [...userIds, ...dossierIds, ...activities.map((a) => String(a.id)), ...documents.map((d) => String(d.id))];
  const audit = await rows(
    db,
    sql`SELECT id, seq, actor, action, entity, entity_id, outcome, at FROM audit_event
        WHERE org_id = ${s.orgId} AND (entity_id = ANY(${about}) OR actor = ANY(${userIds})) ORDER BY seq`,
  );
  return { user_profile: profile, app_user: appUser, user_preferences: preferences, dossier: dossiers, activity: activities, document: documents, audit_event: audit };
}

/** What an erasure removed, by pseudonymous ids: one erasure_ledger row. */
export interface LedgerEntry {
  readonly id?: string;
  readonly orgId: string;
  readonly requestId: string | null;
  readonly subjectRef: string;
  readonly userIds: readonly string[];
  readonly dossierIds: readonly string[];
  readonly activityIds: readonly string[];
  readonly documentIds: readonly string[];
  readonly erasedAt?: string;
}

export function ledgerEntryOf(s: Subject, found: SubjectRows, requestId: string | null): LedgerEntry {
  const ids = (list: Row[], key = 'id') => list.map((r) => String(r[key]));
  return {
    orgId: s.orgId,
    requestId,
    subjectRef: s.ref,
    userIds: [...new Set([...(s.userId ? [s.userId] : []), ...ids(found.user_profile, 'userId'), ...ids(found.app_user)])],
    dossierIds: ids(found.dossier),
    activityIds: ids(found.activity),
    documentIds: ids(found.document),
  };
}

export interface ErasureCounts {
  readonly userProfiles: number;
  readonly appUsers: number;
  readonly preferences: number;
  readonly dossiersMasked: number;
  readonly activities: number;
  readonly documents: number;
  readonly exportsCleared: number;
}

const ZERO_HASH = '0'.repeat(64);
const count = async (db: Executor, query: ReturnType<typeof sql>) => Number((await query.execute(db)).numAffectedRows ?? 0);

/**
 * Removes or irreversibly masks what the entry names. Idempotent: the API runs it once, the
 * restore replay runs it again on restored rows. Restrictions are lifted first (erasure
 * overrides a restriction). Global rows get the 'erased' tombstone, which replicates and
 * wins every conflict; their blanking is also done here, for a database without migration 002.
 */
export async function applyErasure(db: Executor, e: LedgerEntry): Promise<ErasureCounts> {
  const { orgId, userIds, dossierIds, activityIds, documentIds } = e;
  await sql`UPDATE dossier SET restricted_at = NULL WHERE org_id = ${orgId} AND id = ANY(${dossierIds}::uuid[]) AND restricted_at IS NOT NULL`.execute(db);
  await sql`UPDATE activity SET restricted_at = NULL WHERE org_id = ${orgId} AND (id = ANY(${activityIds}::uuid[]) OR dossier_id = ANY(${dossierIds}::uuid[])) AND restricted_at IS NOT NULL`.execute(db);
  await sql`UPDATE document SET restricted_at = NULL WHERE org_id = ${orgId} AND (id = ANY(${documentIds}::uuid[]) OR dossier_id = ANY(${dossierIds}::uuid[])) AND restricted_at IS NOT NULL`.execute(db);
  await sql`UPDATE user_profile SET restricted_at = NULL WHERE org_id = ${orgId} AND user_id = ANY(${userIds}) AND restricted_at IS NOT NULL`.execute(db);
  const documents = await count(db, sql`DELETE FROM document WHERE org_id = ${orgId} AND (id = ANY(${documentIds}::uuid[]) OR dossier_id = ANY(${dossierIds}::uuid[]))`);
  const activities = await count(db, sql`DELETE FROM activity WHERE org_id = ${orgId} AND (id = ANY(${activityIds}::uuid[]) OR dossier_id = ANY(${dossierIds}::uuid[]))`);
  const dossiersMasked = await count(
    db,
    // A dossier whose client is the subject is about them: its free text goes with the
    // client fields (a name is often in the title or the notes); the business record stays.
    sql`UPDATE dossier SET client_name = NULL, client_email = NULL, client_phone = NULL, title = '(erased)', description = NULL, reference = NULL, updated_at = now()
        WHERE org_id = ${orgId} AND id = ANY(${dossierIds}::uuid[])
          AND (client_name IS NOT NULL OR client_email IS NOT NULL OR client_phone IS NOT NULL OR title <> '(erased)' OR description IS NOT NULL)`,
  );
  const userProfiles = await count(db, sql`DELETE FROM user_profile WHERE org_id = ${orgId} AND user_id = ANY(${userIds})`);
  const appUsers = await count(
    db,
    sql`UPDATE app_user SET tombstone = 'erased', email_hash = ${ZERO_HASH}, updated_at = now()
        WHERE org_id = ${orgId} AND id = ANY(${userIds}) AND tombstone IS DISTINCT FROM 'erased'`,
  );
  const preferences = await count(
    db,
    sql`UPDATE user_preferences SET tombstone = 'erased', locale = 'en', timezone = 'UTC', theme = 'system', preferred_region = NULL, updated_at = now()
        WHERE user_id = ANY(${userIds}) AND tombstone IS DISTINCT FROM 'erased'`,
  );
  const exportsCleared = await count(db, sql`UPDATE privacy_request SET export = NULL WHERE org_id = ${orgId} AND subject_ref = ${e.subjectRef} AND export IS NOT NULL`);
  return { userProfiles, appUsers, preferences, dossiersMasked, activities, documents, exportsCleared };
}

export async function insertLedgerEntry(db: Executor, e: LedgerEntry): Promise<LedgerEntry> {
  const { rows: inserted } = await sql<{ id: string; erasedAt: Date }>`
    INSERT INTO erasure_ledger (org_id, request_id, subject_ref, user_ids, dossier_ids, activity_ids, document_ids)
    VALUES (${e.orgId}, ${e.requestId}, ${e.subjectRef}, ${e.userIds}, ${e.dossierIds}::uuid[], ${e.activityIds}::uuid[], ${e.documentIds}::uuid[])
    RETURNING id, erased_at`.execute(db);
  return { ...e, id: inserted[0]!.id, erasedAt: new Date(inserted[0]!.erasedAt).toISOString() };
}

/** Sets or lifts the art. 18 restriction on the subject's regional rows; returns rows marked. */
export async function setRestriction(db: Executor, found: SubjectRows, orgId: string, restricted: boolean): Promise<number> {
  const at = restricted ? sql`now()` : sql`NULL`;
  const ids = (list: Row[], key = 'id') => list.map((r) => String(r[key]));
  let n = 0;
  n += await count(db, sql`UPDATE user_profile SET restricted_at = ${at} WHERE org_id = ${orgId} AND user_id = ANY(${ids(found.user_profile, 'userId')})`);
  n += await count(db, sql`UPDATE dossier SET restricted_at = ${at} WHERE org_id = ${orgId} AND id = ANY(${ids(found.dossier)}::uuid[])`);
  n += await count(db, sql`UPDATE activity SET restricted_at = ${at} WHERE org_id = ${orgId} AND id = ANY(${ids(found.activity)}::uuid[])`);
  n += await count(db, sql`UPDATE document SET restricted_at = ${at} WHERE org_id = ${orgId} AND id = ANY(${ids(found.document)}::uuid[])`);
  return n;
}

// ---------------------------------------------------------------- restore replay

const isIdList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * One ledger entry as kept outside the database (a JSON line of the ledger file, or one
 * object of the region's bucket), or undefined when the text is not one: the restore reports
 * it rather than guessing.
 */
export function parseLedgerEntry(text: string): LedgerEntry | undefined {
  let v: Partial<Record<keyof LedgerEntry, unknown>>;
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  if (typeof v.orgId !== 'string' || typeof v.subjectRef !== 'string') return undefined;
  if (!isIdList(v.userIds) || !isIdList(v.dossierIds) || !isIdList(v.activityIds) || !isIdList(v.documentIds)) return undefined;
  if (v.requestId !== null && typeof v.requestId !== 'string') return undefined;
  if ((v.id !== undefined && typeof v.id !== 'string') || (v.erasedAt !== undefined && typeof v.erasedAt !== 'string')) return undefined;
  return {
    ...(v.id !== undefined ? { id: v.id } : {}),
    orgId: v.orgId,
    requestId: v.requestId,
    subjectRef: v.subjectRef,
    userIds: v.userIds,
    dossierIds: v.dossierIds,
    activityIds: v.activityIds,
    documentIds: v.documentIds,
    ...(v.erasedAt !== undefined ? { erasedAt: v.erasedAt } : {}),
  };
}

/** The ledger file's entries (one JSON line each), and the numbers of the lines that are not entries. */
export function parseLedgerFile(text: string): { entries: LedgerEntry[]; unreadable: string[] } {
  const entries: LedgerEntry[] = [];
  const unreadable: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const entry = parseLedgerEntry(line);
    if (entry) entries.push(entry);
    else unreadable.push(`line ${i + 1}`);
  });
  return { entries, unreadable };
}

export interface ReplayReport {
  readonly entries: number;
  /** Entries of the off-database copy that the restored ledger table lacked (erasures after the backup). */
  readonly imported: number;
  readonly rowsErased: number;
  readonly bodiesDeleted: number;
}

/**
 * After a restore from backup: brings the erasure ledger up to date from its copy kept
 * outside the backup (`entries` as read from the region's bucket or file, or `ledgerFile`),
 * then erases again, entry by entry, whatever the restore brought back. With the blind-index
 * key it also finds restored dossiers by the subject's keyed e-mail hash (rows the erasure
 * never saw because they were deleted in between). Runs as the superuser (adminUrl):
 * row-level security does not apply to it.
 */
export async function replayErasureLedger(
  adminUrl: string,
  options: {
    /** The ledger's off-database copy, already read (packages/api erasure-ledger.store.ts). */
    entries?: readonly LedgerEntry[];
    /** Or its local file (one JSON line per erasure); a line that is not an entry stops the replay. */
    ledgerFile?: string;
    blindIndexKey?: string;
    /** Removes one restored document body wherever bodies live (the API's body store, e.g. its S3 bucket). */
    removeBody?: (orgId: string, documentId: string) => Promise<void>;
    /** Shorthand for bodies in a local folder: `<documentsRoot>/<orgId>/<documentId>.bin`. */
    documentsRoot?: string;
  } = {},
): Promise<ReplayReport> {
  const { documentsRoot } = options;
  const removeBody = options.removeBody ?? (documentsRoot ? (orgId: string, id: string) => rm(join(documentsRoot, orgId, `${id}.bin`), { force: true }) : undefined);
  const atlas = createDb(adminUrl, { max: 1, applicationName: 'atlas-erasure-replay' });
  try {
    const db = atlas.db;
    const copy = [...(options.entries ?? [])];
    if (options.ledgerFile) {
      const text = await readFile(options.ledgerFile, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
      const parsed = parseLedgerFile(text);
      if (parsed.unreadable.length > 0) throw new Error(`${options.ledgerFile}: ${parsed.unreadable.join(', ')} are not ledger entries; nothing was replayed`);
      copy.push(...parsed.entries);
    }
    let imported = 0;
    for (const e of copy) {
      // The copy's id is the table's: an entry the restored table already holds is skipped.
      const r = await sql`
        INSERT INTO erasure_ledger (id, org_id, request_id, subject_ref, user_ids, dossier_ids, activity_ids, document_ids, erased_at)
        VALUES (coalesce(${e.id ?? null}::uuid, uuidv7()), ${e.orgId}, ${e.requestId}, ${e.subjectRef}, ${e.userIds}, ${e.dossierIds}::uuid[], ${e.activityIds}::uuid[], ${e.documentIds}::uuid[], ${e.erasedAt ?? new Date().toISOString()})
        ON CONFLICT (id) DO NOTHING`.execute(db);
      imported += Number(r.numAffectedRows ?? 0);
    }
    const { rows: entries } = await sql<LedgerEntry>`
      SELECT id, org_id, request_id, subject_ref, user_ids, dossier_ids, activity_ids, document_ids FROM erasure_ledger ORDER BY erased_at, id`.execute(db);
    let rowsErased = 0;
    let bodiesDeleted = 0;
    for (const stored of entries) {
      const entry = { ...stored, dossierIds: [...stored.dossierIds] } as LedgerEntry & { dossierIds: string[] };
      if (options.blindIndexKey) {
        const { rows: candidates } = await sql<{ id: string; clientEmail: string }>`
          SELECT id, client_email FROM dossier WHERE org_id = ${entry.orgId} AND client_email IS NOT NULL`.execute(db);
        for (const c of candidates) {
          const hash = createHmac('sha256', options.blindIndexKey).update(c.clientEmail.trim().toLowerCase()).digest('hex');
          if (hash === entry.subjectRef && !entry.dossierIds.includes(c.id)) entry.dossierIds.push(c.id);
        }
      }
      const { rows: docs } = await sql<{ id: string }>`
        SELECT id FROM document WHERE org_id = ${entry.orgId} AND (id = ANY(${entry.documentIds}::uuid[]) OR dossier_id = ANY(${entry.dossierIds}::uuid[]))`.execute(db);
      const counts = await db.transaction().execute((tx) => applyErasure(tx, entry));
      rowsErased += Object.values(counts).reduce((a, b) => a + b, 0);
      if (removeBody) {
        for (const id of new Set([...entry.documentIds, ...docs.map((d) => d.id)])) {
          await removeBody(entry.orgId, id);
          bodiesDeleted += 1;
        }
      }
    }
    return { entries: entries.length, imported, rowsErased, bodiesDeleted };
  } finally {
    await atlas.destroy();
  }
}
