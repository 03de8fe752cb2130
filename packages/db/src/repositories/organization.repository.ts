import type { Executor } from './executor';

export const ORGANIZATION_COLUMNS = ['id', 'name', 'homeRegion', 'createdAt', 'updatedAt', 'originRegion', 'hlc'] as const;

export function findOrganization(db: Executor, id: string) {
  return db
    .selectFrom('organization')
    .select(ORGANIZATION_COLUMNS)
    .where('id', '=', id)
    .where('tombstone', 'is', null)
    .executeTakeFirst();
}

export function insertOrganization(db: Executor, org: { id: string; name: string; homeRegion: string }) {
  return db.insertInto('organization').values(org).returning(ORGANIZATION_COLUMNS).executeTakeFirstOrThrow();
}

export function listOrganizations(db: Executor, options: { limit: number; after?: string; homeRegion?: string }) {
  let query = db.selectFrom('organization').select(ORGANIZATION_COLUMNS).where('tombstone', 'is', null);
  if (options.homeRegion) query = query.where('homeRegion', '=', options.homeRegion);
  if (options.after) query = query.where('id', '>', options.after);
  return query.orderBy('id').limit(options.limit + 1).execute();
}

export function renameOrganization(db: Executor, id: string, name: string) {
  return db
    .updateTable('organization')
    .set({ name, updatedAt: new Date() })
    .where('id', '=', id)
    .where('tombstone', 'is', null)
    .returning(ORGANIZATION_COLUMNS)
    .executeTakeFirst();
}

/** Deletes of global rows are tombstones, so they take part in the replication conflict rule. */
export function tombstoneOrganization(db: Executor, id: string) {
  return db
    .updateTable('organization')
    .set({ tombstone: 'deleted', updatedAt: new Date() })
    .where('id', '=', id)
    .where('tombstone', 'is', null)
    .returning('id')
    .executeTakeFirst();
}
