import { endpointFromConninfo, endpointToUrl, withClient } from './connection';
import { clusterRegion } from './global-tables';
import { parseSubscriptionName } from './names';

/** PostgreSQL's own conflict counters (pg_stat_subscription_stats); they count resolved and benign cases too. */
export interface PgConflictCounters {
  readonly insertExists: number;
  readonly updateOriginDiffers: number;
  readonly updateExists: number;
  /** An UPDATE whose row was not here: skipped by PostgreSQL; the repair pass restores it. */
  readonly updateMissing: number;
  readonly deleteOriginDiffers: number;
  readonly deleteMissing: number;
  readonly multipleUniqueConflicts: number;
}

export type WorkerState = 'streaming' | 'catchup' | 'starting' | 'stopped' | 'disabled';

export interface SubscriptionStatus {
  readonly subscription: string;
  /** The region this subscription runs in (the subscriber). */
  readonly region: string;
  /** The publisher whose changes it receives. */
  readonly peerRegion: string;
  readonly enabled: boolean;
  /**
   * streaming/catchup: the publisher's walsender state; starting: an apply worker runs but
   * the publisher shows no walsender yet; stopped: enabled but no worker (it errored and is
   * waiting to retry, or the publisher is unreachable); disabled.
   */
  readonly workerState: WorkerState;
  /** Subscriber side (pg_stat_subscription): last message sent by the publisher / received here. */
  readonly lastMsgSendTime: Date | null;
  readonly lastMsgReceiptTime: Date | null;
  /**
   * Publisher side (pg_stat_replication.replay_lag): time from a commit on the publisher to
   * its apply here. 0 when the slot is active and fully confirmed; null when unknown
   * (publisher unreachable or no walsender).
   */
  readonly lagSeconds: number | null;
  /** Publisher side: WAL not yet confirmed by this subscriber (pg_current_wal_lsn() − slot's confirmed_flush_lsn). */
  readonly lagBytes: number | null;
  readonly applyErrorCount: number;
  readonly syncErrorCount: number;
  readonly pgConflicts: PgConflictCounters;
  /** Rows in this region's replication_conflict delivered by this subscription. */
  readonly conflicts: number;
  readonly publisher: { readonly reachable: boolean; readonly slotActive: boolean | null; readonly walStatus: string | null; readonly error?: string };
}

interface SubscriberRow {
  subname: string;
  subenabled: boolean;
  subconninfo: string;
  subslotname: string | null;
  pid: number | null;
  last_msg_send_time: Date | null;
  last_msg_receipt_time: Date | null;
  apply_error_count: string | null;
  sync_error_count: string | null;
  confl_insert_exists: string | null;
  confl_update_origin_differs: string | null;
  confl_update_exists: string | null;
  confl_update_missing: string | null;
  confl_delete_origin_differs: string | null;
  confl_delete_missing: string | null;
  confl_multiple_unique_conflicts: string | null;
  conflicts: string;
}

interface PublisherRow {
  active: boolean;
  wal_status: string | null;
  lag_bytes: string | null;
  state: string | null;
  replay_lag_s: number | null;
}

const n = (v: string | null | undefined): number => Number(v ?? 0);

async function publisherView(publisherUrl: string, slot: string): Promise<PublisherRow | undefined> {
  return withClient(publisherUrl, async (c) => {
    const { rows } = await c.query<PublisherRow>(
      `SELECT s.active, s.wal_status,
              pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::text AS lag_bytes,
              r.state, extract(epoch FROM r.replay_lag)::float8 AS replay_lag_s
         FROM pg_replication_slots s
         LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
        WHERE s.slot_name = $1`,
      [slot],
    );
    return rows[0];
  }, 'atlas-replication-status');
}

/**
 * Status of every Atlas subscription in the region at adminUrl. Receiver figures come from
 * this (subscriber) side: pg_subscription, pg_stat_subscription, pg_stat_subscription_stats
 * and replication_conflict. Lag comes from the publisher side, reached with the
 * subscription's own connection (or publisherUrl(peer) when given, e.g. to bypass a WAN
 * proxy): pg_replication_slots for bytes, pg_stat_replication for seconds. A publisher that
 * cannot be reached leaves lag null and says so; it never fails the whole call.
 */
export async function replicationStatus(
  adminUrl: string,
  options: { publisherUrl?: (peerRegion: string) => string | undefined } = {},
): Promise<SubscriptionStatus[]> {
  const { region, rows } = await withClient(adminUrl, async (c) => {
    const result = await c.query<SubscriberRow>(
      `SELECT s.subname, s.subenabled, s.subconninfo, s.subslotname,
              w.pid, w.last_msg_send_time, w.last_msg_receipt_time,
              st.apply_error_count::text, st.sync_error_count::text,
              st.confl_insert_exists::text, st.confl_update_origin_differs::text, st.confl_update_exists::text,
              st.confl_update_missing::text, st.confl_delete_origin_differs::text, st.confl_delete_missing::text,
              st.confl_multiple_unique_conflicts::text,
              (SELECT count(*) FROM public.replication_conflict rc WHERE rc.source = s.subname)::text AS conflicts
         FROM pg_subscription s
         JOIN pg_database d ON d.oid = s.subdbid AND d.datname = current_database()
         LEFT JOIN pg_stat_subscription w ON w.subid = s.oid AND w.worker_type = 'apply'
         LEFT JOIN pg_stat_subscription_stats st ON st.subid = s.oid
        WHERE s.subname LIKE 'atlas\\_sub\\_%'
        ORDER BY s.subname`,
    );
    return { region: await clusterRegion(c), rows: result.rows };
  }, 'atlas-replication-status');

  return Promise.all(
    rows.map(async (r): Promise<SubscriptionStatus> => {
      const peerRegion = parseSubscriptionName(r.subname)?.from ?? r.subname;
      const slot = r.subslotname ?? r.subname;
      let pub: PublisherRow | undefined;
      let error: string | undefined;
      try {
        const url = options.publisherUrl?.(peerRegion) ?? endpointToUrl(endpointFromConninfo(r.subconninfo));
        pub = await publisherView(url, slot);
        if (!pub) error = `no replication slot ${slot} on ${peerRegion}`;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const walsender = pub?.state ?? null;
      const workerState: WorkerState = !r.subenabled
        ? 'disabled'
        : r.pid === null
          ? 'stopped'
          : walsender === 'streaming' || walsender === 'catchup'
            ? walsender
            : 'starting';
      const lagBytes = pub?.lag_bytes != null ? Math.max(0, Number(pub.lag_bytes)) : null;
      // replay_lag reads NULL once the link has been idle and caught up for a while.
      const lagSeconds = pub?.replay_lag_s ?? (pub?.active && lagBytes === 0 ? 0 : null);
      return {
        subscription: r.subname,
        region,
        peerRegion,
        enabled: r.subenabled,
        workerState,
        lastMsgSendTime: r.last_msg_send_time,
        lastMsgReceiptTime: r.last_msg_receipt_time,
        lagSeconds,
        lagBytes,
        applyErrorCount: n(r.apply_error_count),
        syncErrorCount: n(r.sync_error_count),
        pgConflicts: {
          insertExists: n(r.confl_insert_exists),
          updateOriginDiffers: n(r.confl_update_origin_differs),
          updateExists: n(r.confl_update_exists),
          updateMissing: n(r.confl_update_missing),
          deleteOriginDiffers: n(r.confl_delete_origin_differs),
          deleteMissing: n(r.confl_delete_missing),
          multipleUniqueConflicts: n(r.confl_multiple_unique_conflicts),
        },
        conflicts: n(r.conflicts),
        publisher: {
          reachable: pub !== undefined,
          slotActive: pub?.active ?? null,
          walStatus: pub?.wal_status ?? null,
          ...(error ? { error } : {}),
        },
      };
    }),
  );
}
