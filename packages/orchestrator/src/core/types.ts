/**
 * The failover state machine's vocabulary. Pure data: no I/O, no clock reads (the time of
 * every event is passed in), so the same core runs in the local daemon and in AWS.
 */

export const PHASES = [
  'healthy',
  'suspect',
  'failed',
  'promoting',
  'failed-over',
  'recovering',
  'standby-lost',
  'switching-over',
  'down',
] as const;
/**
 * healthy: primary answers, synchronous standby streaming (zero-loss promise kept).
 * suspect: primary probes failing, below the thresholds.
 * failed: primary declared dead; fencing it.
 * promoting: fenced; promoting the standby.
 * failed-over: standby promoted; API repointed; links and repair in progress.
 * recovering: serving from the new primary; building a new standby (promise suspended).
 * standby-lost: primary fine, standby gone: commits asynchronous, standby being rebuilt.
 * switching-over: a planned switchover is running.
 * down: primary dead and no standby to promote: the region's database is unavailable.
 */
export type Phase = (typeof PHASES)[number];

export const EVENT_TYPES = [
  'probe-ok',
  'probe-failed',
  'standby-ok',
  'standby-failed',
  'fence-done',
  'fence-failed',
  'promote-done',
  'promote-failed',
  'failover-steps-done',
  'standby-rebuilt',
  'rebuild-failed',
  'switchover-requested',
  'switchover-done',
  'switchover-failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event of one type; `detail` is a human-readable reason (an error message, a lag). */
export type EventOf<T extends EventType> = T extends 'switchover-failed'
  ? /** `promoted`: the standby was promoted before the switchover failed (no way back). */
    { readonly type: T; readonly promoted: boolean; readonly detail?: string }
  : { readonly type: T; readonly detail?: string };

export type FailoverEvent = { [T in EventType]: EventOf<T> }[EventType];

export const NOTIFICATIONS = [
  'primary-failed',
  'fence-failed',
  'failed-over',
  'failover-failed',
  'region-down',
  'region-back',
  'zero-loss-suspended',
  'zero-loss-restored',
  'rebuild-failed',
  'switchover-started',
  'switched-over',
  'switchover-failed',
  'switchover-refused',
] as const;
export type Notification = (typeof NOTIFICATIONS)[number];

export type StepStatus = 'done' | 'failed' | 'not_run';

/** Side effects a transition asks for, executed in order by the shell. */
export type FailoverEffect =
  /** SIGKILL the old primary's postmaster and every child found via /proc → fence-done | fence-failed. */
  | { readonly kind: 'fence-primary' }
  /** pg_promote the standby, swap the roles → promote-done | promote-failed. */
  | { readonly kind: 'promote-standby' }
  /** Point the region's database address (the forwarder) at the current primary. */
  | { readonly kind: 'repoint-api' }
  /** Re-point the peers' subscriptions and this region's slots at the new primary. */
  | { readonly kind: 'restore-replication' }
  /** Anti-entropy pass over the global tables: replication alone can lose changes around a failover. */
  | { readonly kind: 'repair-global-tables' }
  /** Wipe and re-clone the standby from the current primary, synchronous → standby-rebuilt | rebuild-failed. */
  | { readonly kind: 'rebuild-standby' }
  /** Clear synchronous_standby_names: commits stop waiting for a standby that is gone. */
  | { readonly kind: 'suspend-sync' }
  /** Make the (streaming) standby synchronous again. */
  | { readonly kind: 'resume-sync' }
  /** Start the region's primary again after a crash when no standby could take over. */
  | { readonly kind: 'restart-primary' }
  /** Stop writes, wait for replay, promote, repoint → switchover-done | switchover-failed. */
  | { readonly kind: 'planned-switchover' }
  /** A step that is a decision rather than an action (detection, not-run steps). */
  | { readonly kind: 'record-step'; readonly step: string; readonly status: StepStatus; readonly detail: Readonly<Record<string, unknown>> }
  | { readonly kind: 'notify'; readonly notification: Notification; readonly message: string }
  /** Feed this event back once the effects before it have run. */
  | { readonly kind: 'report'; readonly event: 'failover-steps-done' };

export type EffectKind = FailoverEffect['kind'];

export interface FailoverThresholds {
  /** Consecutive failed primary probes before declaring it failed… */
  readonly primaryFailAfterProbes: number;
  /** …and for at least this long since the first of them (both must hold). */
  readonly primaryFailAfterMs: number;
  /** Consecutive good probes to leave `suspect` (hysteresis: no flapping). */
  readonly recoverAfterProbes: number;
  readonly standbyLostAfterProbes: number;
  readonly standbyLostAfterMs: number;
  /** Retries of a fence or a promotion before giving up (→ down). */
  readonly maxAttempts: number;
  /** First pause before retrying a failed rebuild or restart; doubles, capped. */
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
}

export const DEFAULT_THRESHOLDS: FailoverThresholds = Object.freeze({
  primaryFailAfterProbes: 3,
  primaryFailAfterMs: 1_000,
  recoverAfterProbes: 2,
  standbyLostAfterProbes: 3,
  standbyLostAfterMs: 750,
  maxAttempts: 3,
  retryBackoffMs: 1_000,
  retryBackoffMaxMs: 5_000,
});

export type StandbyCondition = 'streaming' | 'lost' | 'rebuilding';

export interface RegionFailoverState {
  readonly region: string;
  readonly phase: Phase;
  /** When the current phase was entered (ms since the epoch, from the injected clock). */
  readonly since: number;
  readonly primaryFailures: number;
  readonly primaryFailingSince: number | null;
  readonly primaryOks: number;
  readonly standbyFailures: number;
  readonly standbyFailingSince: number | null;
  readonly standby: StandbyCondition;
  /** True while commits do not wait for a standby: the zero-loss promise is suspended. */
  readonly syncSuspended: boolean;
  readonly failoverId: string | null;
  /** Fence or promotion attempts in the current failover; rebuild/restart attempts otherwise. */
  readonly attempts: number;
  readonly retryAt: number;
  readonly lastError: string | null;
}

export interface Transition {
  readonly state: RegionFailoverState;
  readonly effects: readonly FailoverEffect[];
}
