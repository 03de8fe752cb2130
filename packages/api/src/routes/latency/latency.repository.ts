import { sql } from 'kysely';
import type { Executor } from '@atlas/db';

export interface LatencyStats {
  fromRegion: string;
  toRegion: string;
  source: string;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  lastAt: Date;
}

export function insertSamples(db: Executor, samples: ReadonlyArray<{ fromRegion: string; toRegion: string; rttMs: number; source: 'probe' | 'client' }>) {
  return db.insertInto('latencySample').values(samples.map((s) => ({ ...s }))).execute();
}

/** Percentiles per (from, to, source) over the last `minutes`, computed in the database. */
export async function latencyStats(db: Executor, minutes: number): Promise<LatencyStats[]> {
  const { rows } = await sql<LatencyStats>`
    SELECT from_region AS "fromRegion", to_region AS "toRegion", source,
           count(*)::int AS samples,
           percentile_cont(0.50) WITHIN GROUP (ORDER BY rtt_ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY rtt_ms) AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY rtt_ms) AS p99,
           max(rtt_ms) AS max,
           max(sampled_at) AS "lastAt"
      FROM latency_sample
     WHERE sampled_at > now() - make_interval(mins => ${minutes})
     GROUP BY from_region, to_region, source
     ORDER BY from_region, to_region, source`.execute(db);
  return rows;
}

export function recordHealthEvent(db: Executor, region: string, status: string, detail: unknown) {
  return db.insertInto('regionHealth').values({ region, status, detail: JSON.stringify(detail) }).execute();
}

export function listHealthEvents(db: Executor, status: string, limit: number) {
  return db
    .selectFrom('regionHealth')
    .select(['id', 'region', 'status', 'detail', 'observedAt'])
    .where('status', '=', status)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
