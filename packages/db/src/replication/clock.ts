import { withClient } from './connection';

/**
 * Shifts the region's hybrid-logical-clock wall time by offsetMs (negative: behind). For
 * tests and drills of clock skew; only a superuser can set it. The clock stays monotonic:
 * moving it back only slows its physical part until the wall clock catches up.
 */
export async function setClockOffset(adminUrl: string, offsetMs: number): Promise<void> {
  await withClient(adminUrl, (c) => c.query('UPDATE public.atlas_hlc_state SET offset_ms = $1', [Math.trunc(offsetMs)]));
}

/** The last HLC version issued or observed by the region at url. */
export async function currentHlc(url: string): Promise<bigint> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ v: string }>('SELECT public.atlas_hlc_current()::text AS v');
    return BigInt(rows[0]!.v);
  });
}
