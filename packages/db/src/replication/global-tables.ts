import type pg from 'pg';

export interface GlobalTable {
  readonly table: string;
  readonly keyColumn: string;
}

/** The replicated tables, from the registry the migrations keep (atlas_global_table). */
export async function globalTables(client: pg.ClientBase): Promise<readonly GlobalTable[]> {
  const { rows } = await client.query<{ table_name: string; key_column: string }>(
    'SELECT table_name, key_column FROM public.atlas_global_table ORDER BY table_name',
  );
  return rows.map((r) => ({ table: r.table_name, keyColumn: r.key_column }));
}

/** The cluster's own region, as recorded at its creation. */
export async function clusterRegion(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ region: string }>('SELECT public.atlas_region() AS region');
  const region = rows[0]?.region;
  if (!region) throw new Error('this database has no region recorded in atlas_cluster');
  return region;
}
