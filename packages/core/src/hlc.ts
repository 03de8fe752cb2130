/**
 * Hybrid logical clock and the conflict rule of the global tables, as pure functions.
 * The database stamps and resolves with the same rules in SQL
 * (packages/db/migrations/002.do.replication.sql, clock made cheaper by 024); these are the
 * model the repair pass and the tests use. Versions are bigint: 48 bits of milliseconds, 16
 * of logical counter. One difference in the database: when its clock has to catch up with
 * the wall clock it jumps up to 10 ms past it, so the next writes in those 10 ms take the
 * path without a lock. Every property below still holds (monotonic, never behind the wall
 * clock, above the replaced and every observed version); only the exact values differ.
 */

export const HLC_LOGICAL_BITS = 16n;
const LOGICAL_MASK = (1n << HLC_LOGICAL_BITS) - 1n;

export function encodeHlc(physicalMs: number, logical = 0): bigint {
  return (BigInt(Math.floor(physicalMs)) << HLC_LOGICAL_BITS) | (BigInt(logical) & LOGICAL_MASK);
}

export function decodeHlc(hlc: bigint): { readonly physicalMs: number; readonly logical: number } {
  return { physicalMs: Number(hlc >> HLC_LOGICAL_BITS), logical: Number(hlc & LOGICAL_MASK) };
}

/**
 * The version of a local write: above the last value issued here, above the version it
 * replaces (`after`), and at least the wall clock.
 */
export function hlcNext(last: bigint, wallMs: number, after = 0n): bigint {
  const wall = encodeHlc(wallMs);
  const candidates = [last + 1n, wall, after + 1n];
  return candidates.reduce((a, b) => (b > a ? b : a));
}

/** Receiving a remote version: the clock never issues a value at or below it afterwards. */
export function hlcObserve(last: bigint, remote: bigint): bigint {
  return remote > last ? remote : last;
}

export type Tombstone = 'deleted' | 'erased' | null;

export interface RowVersion {
  readonly hlc: bigint;
  readonly origin: string;
  readonly tombstone: Tombstone;
}

/** Region ids compare byte-wise (COLLATE "C" in SQL), never by locale. */
function compareText(a: string, b: string): -1 | 0 | 1 {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  const c = Buffer.compare(x, y);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

/**
 * Orders two versions of one row: an erasure beats anything that is not an erasure, then
 * the higher hlc, then the higher origin region. 0 only for the same (hlc, origin).
 */
export function compareVersions(a: RowVersion, b: RowVersion): -1 | 0 | 1 {
  const ea = a.tombstone === 'erased';
  const eb = b.tombstone === 'erased';
  if (ea !== eb) return ea ? 1 : -1;
  if (a.hlc !== b.hlc) return a.hlc > b.hlc ? 1 : -1;
  return compareText(a.origin, b.origin);
}

export function versionWins(a: RowVersion, b: RowVersion): boolean {
  return compareVersions(a, b) > 0;
}

/** The winning version of a set of writes of one row (what every region converges to). */
export function maxVersion<T extends RowVersion>(versions: readonly T[]): T | undefined {
  return versions.reduce<T | undefined>((best, v) => (best === undefined || versionWins(v, best) ? v : best), undefined);
}

export type ConflictKind = 'insert_exists' | 'update_update' | 'delete_update' | 'erase_update' | 'delete_live';
export type ConflictDecision = 'remote_wins' | 'local_wins';

export interface VersionWithBase extends RowVersion {
  /** The version this one replaced: (0, null) for a first insert. */
  readonly baseHlc: bigint;
  readonly baseOrigin: string | null;
}

export interface ApplyDecision {
  readonly apply: boolean;
  /** Null when the versions are causally related or identical: not a conflict. */
  readonly conflict: { readonly kind: ConflictKind; readonly decision: ConflictDecision } | null;
}

/**
 * What the apply path does with an incoming version of a row that exists locally (the pure
 * twin of atlas_apply_decide in the database). `op` is how it arrived: an INSERT of an existing key
 * merges instead of failing.
 */
export function decideIncoming(local: VersionWithBase, remote: VersionWithBase, op: 'insert' | 'update'): ApplyDecision {
  if (local.hlc === remote.hlc && local.origin === remote.origin) return { apply: false, conflict: null };
  const remoteWins = versionWins(remote, local);
  const related = remoteWins
    ? remote.baseHlc === local.hlc && remote.baseOrigin === local.origin
    : local.baseHlc === remote.hlc && local.baseOrigin === remote.origin;
  if (related) return { apply: remoteWins, conflict: null };
  const kind: ConflictKind =
    remote.tombstone === 'erased' || local.tombstone === 'erased'
      ? 'erase_update'
      : remote.tombstone !== local.tombstone
        ? 'delete_update'
        : op === 'insert'
          ? 'insert_exists'
          : 'update_update';
  return { apply: remoteWins, conflict: { kind, decision: remoteWins ? 'remote_wins' : 'local_wins' } };
}
