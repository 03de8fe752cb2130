import type { Executor } from './executor';

const COLUMNS = ['kind', 'code', 'label', 'sortOrder', 'active', 'updatedAt', 'originRegion'] as const;

export function listKinds(db: Executor) {
  return db
    .selectFrom('referential')
    .select(['kind', db.fn.countAll<string>().as('count')])
    .where('tombstone', 'is', null)
    .groupBy('kind')
    .orderBy('kind')
    .execute();
}

export function listReferential(db: Executor, kind: string, options: { includeInactive: boolean }) {
  let query = db.selectFrom('referential').select(COLUMNS).where('kind', '=', kind).where('tombstone', 'is', null);
  if (!options.includeInactive) query = query.where('active', '=', true);
  return query.orderBy('sortOrder').orderBy('code').execute();
}

export function upsertReferential(db: Executor, entry: { kind: string; code: string; label: string; sortOrder?: number; active?: boolean }) {
  const id = `${entry.kind}:${entry.code}`;
  const changes = { label: entry.label, sortOrder: entry.sortOrder ?? 0, active: entry.active ?? true };
  return db
    .insertInto('referential')
    .values({ id, kind: entry.kind, code: entry.code, ...changes })
    .onConflict((oc) => oc.column('id').doUpdateSet({ ...changes, tombstone: null, updatedAt: new Date() }))
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function tombstoneReferential(db: Executor, kind: string, code: string): Promise<boolean> {
  const row = await db
    .updateTable('referential')
    .set({ tombstone: 'deleted', updatedAt: new Date() })
    .where('id', '=', `${kind}:${code}`)
    .where('tombstone', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}
