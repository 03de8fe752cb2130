import type { Executor } from './executor';

export type Role = 'admin' | 'agent' | 'viewer' | 'dpo';

export interface UserRecord {
  id: string;
  orgId: string;
  role: Role;
  email: string;
  fullName: string;
  phone: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The user as the home region sees it: the global row joined to the regional profile. */
function selectUsers(db: Executor) {
  return db
    .selectFrom('appUser as u')
    .innerJoin('userProfile as p', 'p.userId', 'u.id')
    .select(['u.id', 'u.orgId', 'u.role', 'p.email', 'p.fullName', 'p.phone', 'u.createdAt', 'p.updatedAt'])
    .where('u.tombstone', 'is', null);
}

export function findUser(db: Executor, orgId: string, id: string): Promise<UserRecord | undefined> {
  return selectUsers(db).where('u.orgId', '=', orgId).where('u.id', '=', id).executeTakeFirst();
}

export function listUsers(db: Executor, orgId: string, options: { limit: number; after?: string; role?: Role }) {
  let query = selectUsers(db).where('u.orgId', '=', orgId);
  if (options.role) query = query.where('u.role', '=', options.role);
  if (options.after) query = query.where('u.id', '>', options.after);
  return query.orderBy('u.id').limit(options.limit + 1).execute();
}

/** A live or tombstoned global row with this id: ids are deterministic, so re-creation is a conflict. */
export function findAppUserRow(db: Executor, id: string) {
  return db.selectFrom('appUser').select(['id', 'orgId', 'tombstone']).where('id', '=', id).executeTakeFirst();
}

/**
 * Creates the global row (ids and a keyed hash only: rule R3) and the regional profile that
 * holds the personal fields. Call inside a transaction.
 */
export async function insertUser(
  db: Executor,
  user: { id: string; orgId: string; role: Role; emailHash: string; email: string; fullName: string; phone: string | null },
): Promise<void> {
  await db
    .insertInto('appUser')
    .values({ id: user.id, orgId: user.orgId, role: user.role, emailHash: user.emailHash })
    .onConflict((oc) => oc.column('id').doUpdateSet({ role: user.role, emailHash: user.emailHash, tombstone: null, updatedAt: new Date() }))
    .execute();
  await db
    .insertInto('userProfile')
    .values({ userId: user.id, orgId: user.orgId, email: user.email, fullName: user.fullName, phone: user.phone })
    .execute();
}

export async function updateUser(
  db: Executor,
  orgId: string,
  id: string,
  changes: { role?: Role; fullName?: string; phone?: string | null },
): Promise<void> {
  if (changes.role !== undefined) {
    await db.updateTable('appUser').set({ role: changes.role, updatedAt: new Date() }).where('orgId', '=', orgId).where('id', '=', id).execute();
  }
  const profile: { fullName?: string; phone?: string | null; updatedAt: Date } = { updatedAt: new Date() };
  if (changes.fullName !== undefined) profile.fullName = changes.fullName;
  if (changes.phone !== undefined) profile.phone = changes.phone;
  await db.updateTable('userProfile').set(profile).where('orgId', '=', orgId).where('userId', '=', id).execute();
}

/** The global row becomes a tombstone (it replicates); the personal profile is deleted at home. */
export async function deleteUser(db: Executor, orgId: string, id: string): Promise<void> {
  await db.updateTable('appUser').set({ tombstone: 'deleted', updatedAt: new Date() }).where('orgId', '=', orgId).where('id', '=', id).execute();
  await db.deleteFrom('userProfile').where('orgId', '=', orgId).where('userId', '=', id).execute();
}

export function findLiveAppUser(db: Executor, id: string) {
  return db.selectFrom('appUser').select(['id', 'orgId', 'role']).where('id', '=', id).where('tombstone', 'is', null).executeTakeFirst();
}

export function findPreferences(db: Executor, userId: string) {
  return db
    .selectFrom('userPreferences')
    .select(['userId', 'locale', 'timezone', 'theme', 'preferredRegion', 'updatedAt'])
    .where('userId', '=', userId)
    .where('tombstone', 'is', null)
    .executeTakeFirst();
}

export function upsertPreferences(
  db: Executor,
  userId: string,
  prefs: { locale?: string; timezone?: string; theme?: 'light' | 'dark' | 'system'; preferredRegion?: string | null },
) {
  return db
    .insertInto('userPreferences')
    .values({ userId, ...prefs, preferredRegion: prefs.preferredRegion ?? null })
    .onConflict((oc) => oc.column('userId').doUpdateSet({ ...prefs, tombstone: null, updatedAt: new Date() }))
    .returning(['userId', 'locale', 'timezone', 'theme', 'preferredRegion', 'updatedAt'])
    .executeTakeFirstOrThrow();
}
