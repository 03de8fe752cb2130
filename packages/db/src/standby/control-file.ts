import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** DBState values of pg_control (src/include/catalog/pg_control.h). */
const DB_STATES = ['starting up', 'shut down', 'shut down in recovery', 'shutting down', 'in crash recovery', 'in archive recovery', 'in production'] as const;

export interface ControlFileSummary {
  readonly state: (typeof DB_STATES)[number] | 'unknown';
  /** The last checkpoint's LSN: after a clean shutdown, the shutdown checkpoint, the node's last record. */
  readonly checkpointLsn: string;
}

const lsnText = (value: bigint): string => `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;

/**
 * Reads the state and last checkpoint location from global/pg_control (no pg_controldata in
 * the embedded package). Layout: system_identifier u64 @0, pg_control_version u32 @8,
 * catalog_version_no u32 @12, state i32 @16, padding, time i64 @24, checkPoint u64 @32.
 */
export async function readControlFile(dataDir: string): Promise<ControlFileSummary> {
  const buf = await readFile(join(dataDir, 'global', 'pg_control'));
  const state = buf.readInt32LE(16);
  return { state: DB_STATES[state] ?? 'unknown', checkpointLsn: lsnText(buf.readBigUInt64LE(32)) };
}
