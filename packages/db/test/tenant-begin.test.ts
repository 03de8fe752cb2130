import { sql } from 'kysely';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDb, withTenant } from '../src/index';
import { cluster } from '../../../test/support/regions';

const ORG = 'org_euw1_tenantbegin0000000000';
const tenantNow = sql<{ t: string | null }>`SELECT atlas_tenant() AS t`;

describe('withTenant: the BEGIN carries the tenant', () => {
  const atlas = createDb(cluster().databases['eu-west-1']!.appUrl, { max: 4, applicationName: 'tenant-begin-test' });
  // Every message a pooled client sends to the server, in order.
  const sent: string[] = [];
  const wrapped = new WeakSet<pg.PoolClient>();
  atlas.pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0];
      sent.push(typeof first === 'string' ? first : String((first as { text?: string }).text));
      return query(...args);
    };
  });
  afterAll(() => atlas.destroy());

  it('sets the tenant for the transaction only, in one round trip with BEGIN', async () => {
    sent.length = 0;
    const seen = await withTenant(atlas.db, ORG, async (tx) => (await tenantNow.execute(tx)).rows[0]!.t);
    expect(seen).toBe(ORG);
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(/^BEGIN; SELECT set_config\('atlas\.org_id', 'org_euw1_tenantbegin0000000000', true\)$/);
    expect(sent[2]).toMatch(/^commit$/i);
    // The pooled connections do not keep it.
    const after = await Promise.all([0, 1, 2, 3].map(async () => (await tenantNow.execute(atlas.db)).rows[0]!.t));
    expect(after).toEqual([null, null, null, null]);
  });

  it('rolls back on an error and leaves no tenant behind', async () => {
    await expect(withTenant(atlas.db, ORG, async (tx) => sql`SELECT 1/0`.execute(tx))).rejects.toThrow(/division by zero/);
    const after = await Promise.all([0, 1, 2, 3].map(async () => (await tenantNow.execute(atlas.db)).rows[0]!.t));
    expect(after).toEqual([null, null, null, null]);
  });

  it('does not hand the tenant to another transaction started inside the callback', async () => {
    const inner = await withTenant(atlas.db, ORG, async () => atlas.db.transaction().execute(async (other) => (await tenantNow.execute(other)).rows[0]!.t));
    expect(inner).toBeNull();
  });

  it('sets a tenant the fast path does not take with a statement of its own', async () => {
    const odd = "org'; DROP TABLE dossier; --";
    sent.length = 0;
    expect(await withTenant(atlas.db, odd, async (tx) => (await tenantNow.execute(tx)).rows[0]!.t)).toBe(odd);
    expect(sent).toHaveLength(4);
    expect(sent[0]).toMatch(/^begin$/i);
    // A Kysely instance that is not createDb's own still gets its tenant.
    const plain = atlas.db.withPlugin({ transformQuery: (a) => a.node, transformResult: async (a) => a.result });
    expect(await withTenant(plain, ORG, async (tx) => (await tenantNow.execute(tx)).rows[0]!.t)).toBe(ORG);
  });
});
