import { sql, type Kysely } from 'kysely';
import type { Executor } from './executor';

/** The regional tables that hold an organization's CRM records, keyed by uuid. */
export type RegionalTable = 'dossier' | 'annonce' | 'activity' | 'document';

export type Row = Record<string, unknown>;
export type Filter = (query: FilterableQuery) => FilterableQuery;

// The generic layer works on column names chosen by the route definitions (never by the
// client), so it steps outside Kysely's per-table typing here, in one place.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Kysely<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FilterableQuery = any;

const loose = (db: Executor): Loose => db as unknown as Loose;

export function findRegional(db: Executor, table: RegionalTable, orgId: string, id: string): Promise<Row | undefined> {
  return loose(db).selectFrom(table).selectAll().where('orgId', '=', orgId).where('id', '=', id).executeTakeFirst();
}

export function listRegional(
  db: Executor,
  table: RegionalTable,
  orgId: string,
  options: { limit: number; before?: string; filters: readonly Filter[] },
): Promise<Row[]> {
  let query: FilterableQuery = loose(db).selectFrom(table).selectAll().where('orgId', '=', orgId);
  for (const filter of options.filters) query = filter(query);
  if (options.before) query = query.where('id', '<', options.before);
  // uuidv7 ids grow with time: newest first, and the id alone is a stable cursor.
  return query.orderBy('id', 'desc').limit(options.limit + 1).execute();
}

export function insertRegional(db: Executor, table: RegionalTable, orgId: string, values: Row): Promise<Row> {
  return loose(db)
    .insertInto(table)
    .values({ ...values, orgId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function updateRegional(db: Executor, table: RegionalTable, orgId: string, id: string, values: Row): Promise<Row | undefined> {
  return loose(db)
    .updateTable(table)
    .set({ ...values, updatedAt: sql`now()` })
    .where('orgId', '=', orgId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteRegional(db: Executor, table: RegionalTable, orgId: string, id: string): Promise<boolean> {
  const result = await loose(db).deleteFrom(table).where('orgId', '=', orgId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** True when the dossier exists in this organization: a link to another tenant's dossier is refused. */
export async function dossierBelongsTo(db: Executor, orgId: string, dossierId: string): Promise<boolean> {
  const row = await db.selectFrom('dossier').select('id').where('orgId', '=', orgId).where('id', '=', dossierId).executeTakeFirst();
  return row !== undefined;
}
