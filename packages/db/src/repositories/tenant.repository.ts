import { sql, type Kysely, type Transaction } from 'kysely';
import { beginWithTenant } from '../kysely';
import type { Database } from '../schema';

/**
 * Sets the tenant of the current TRANSACTION (set_config(..., is_local => true)): row-level
 * security then shows and accepts only that organization's rows, and the setting ends with
 * the transaction, so a pooled connection never carries it into another request.
 */
export async function setTenant(tx: Transaction<Database>, orgId: string): Promise<void> {
  await sql`SELECT set_config('atlas.org_id', ${orgId}, true)`.execute(tx);
}

/**
 * Runs fn in a transaction whose tenant is orgId: the only way the API reaches tenant rows.
 * On a database from createDb the BEGIN carries the tenant (one round trip for both); any
 * other Kysely instance sets it with its own statement. Either way an unset tenant shows no
 * rows (atlas_tenant() is null), so a path that failed to set it fails closed.
 */
export function withTenant<T>(db: Kysely<Database>, orgId: string, fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
  return (
    beginWithTenant(db, orgId, (outside) => db.transaction().execute((tx) => outside(() => fn(tx)))) ??
    db.transaction().execute(async (tx) => {
      await setTenant(tx, orgId);
      return fn(tx);
    })
  );
}
