import type {
  EventOf,
  EventType,
  FailoverEffect,
  FailoverThresholds,
  Notification,
  Phase,
  RegionFailoverState as S,
  Transition,
} from './types';

/** One cell of the table: what an event does in a phase. */
export type Cell<E extends EventType> = (s: S, event: EventOf<E>, now: number, t: FailoverThresholds) => Transition;

/** Every phase × every event: the compiler rejects a missing cell. */
export type TransitionTable = { readonly [P in Phase]: { readonly [E in EventType]: Cell<E> } };

// ---- small builders -------------------------------------------------------------------

const stay = (s: S, effects: readonly FailoverEffect[] = []): Transition => ({ state: s, effects });

const enter = (s: S, phase: Phase, now: number, patch: Partial<S> = {}, effects: readonly FailoverEffect[] = []): Transition => ({
  state: { ...s, ...patch, phase, since: phase === s.phase ? s.since : now },
  effects,
});

const notify = (notification: Notification, message: string): FailoverEffect => ({ kind: 'notify', notification, message });

const backoff = (attempts: number, t: FailoverThresholds): number => Math.min(t.retryBackoffMaxMs, t.retryBackoffMs * 2 ** Math.max(0, attempts - 1));

export const failoverIdAt = (region: string, now: number): string => `${region}-${new Date(now).toISOString()}`;

// ---- counters shared by many cells ----------------------------------------------------

function countPrimaryFailure(s: S, now: number): S {
  return { ...s, primaryFailures: s.primaryFailures + 1, primaryFailingSince: s.primaryFailingSince ?? now, primaryOks: 0 };
}

function countPrimaryOk(s: S): S {
  return { ...s, primaryFailures: 0, primaryFailingSince: null, primaryOks: s.primaryOks + 1 };
}

/** Both thresholds: enough probes in a row, and over enough time, so short stalls never count. */
function primaryDead(s: S, now: number, t: FailoverThresholds): boolean {
  return s.primaryFailures >= t.primaryFailAfterProbes && now - (s.primaryFailingSince ?? now) >= t.primaryFailAfterMs;
}

function countStandbyFailure(s: S, now: number): S {
  return { ...s, standbyFailures: s.standbyFailures + 1, standbyFailingSince: s.standbyFailingSince ?? now };
}

function standbyGone(s: S, now: number, t: FailoverThresholds): boolean {
  return s.standbyFailures >= t.standbyLostAfterProbes && now - (s.standbyFailingSince ?? now) >= t.standbyLostAfterMs;
}

const standbyOkCounters = (s: S): S => ({ ...s, standbyFailures: 0, standbyFailingSince: null });

/** A rebuilt standby is streaming and synchronous (the rebuild makes it so). */
const rebuilt = (s: S): S => ({ ...s, standby: 'streaming', syncSuspended: false, standbyFailures: 0, standbyFailingSince: null, attempts: 0, retryAt: 0, lastError: null });

const rebuildFailed = (s: S, event: { detail?: string }, now: number, t: FailoverThresholds): S => {
  const attempts = s.attempts + 1;
  return { ...s, standby: 'lost', attempts, retryAt: now + backoff(attempts, t), lastError: event.detail ?? 'rebuild failed' };
};

/** A lost standby is rebuilt again once the back-off has passed. */
function retryRebuildIfDue(s: S, now: number): Transition {
  if (s.standby !== 'lost' || now < s.retryAt) return stay(s);
  return stay({ ...s, standby: 'rebuilding' }, [{ kind: 'rebuild-standby' }]);
}

const refuseSwitchover = (s: S): Transition =>
  stay(s, [notify('switchover-refused', `a planned switchover of ${s.region} needs a healthy primary and a synchronous standby (now: ${s.phase})`)]);

/** The primary passed its probes again: back to healthy, or to standby-lost if no standby. */
function backInService(s: S, now: number): Transition {
  if (s.standby === 'streaming') return enter(s, 'healthy', now);
  if (s.standby === 'rebuilding') return enter(s, 'standby-lost', now);
  return enter(s, 'standby-lost', now, { standby: 'rebuilding' }, [{ kind: 'rebuild-standby' }]);
}

/** Threshold crossed: fail over if a synchronous standby can take over, else the region is down. */
function declarePrimaryDead(s: S, now: number): Transition {
  const detail = { failures: s.primaryFailures, failingSinceMs: s.primaryFailingSince, standby: s.standby, syncSuspended: s.syncSuspended };
  if (s.standby === 'streaming' && !s.syncSuspended) {
    const id = failoverIdAt(s.region, now);
    return enter(s, 'failed', now, { failoverId: id, attempts: 0, lastError: null }, [
      { kind: 'record-step', step: 'detect', status: 'done', detail },
      notify('primary-failed', `${s.region}: primary failed ${s.primaryFailures} probes in a row; fencing it and promoting the standby`),
      { kind: 'fence-primary' },
    ]);
  }
  return goDown(s, now, 'no synchronous standby to promote', [{ kind: 'record-step', step: 'detect', status: 'done', detail }]);
}

function goDown(s: S, now: number, why: string, before: readonly FailoverEffect[] = []): Transition {
  return enter(s, 'down', now, { attempts: 1, retryAt: now, lastError: why }, [
    ...before,
    notify('region-down', `${s.region}: database unavailable (${why}); restarting the primary in place`),
    { kind: 'restart-primary' },
  ]);
}

/** A primary probe in a phase where the primary serves (healthy, standby-lost, failed-over, recovering). */
function probeFailedWhileServing(s: S, event: EventOf<'probe-failed'>, now: number, t: FailoverThresholds): Transition {
  const next = { ...countPrimaryFailure(s, now), lastError: event.detail ?? null };
  if (primaryDead(next, now, t)) return declarePrimaryDead(next, now);
  // After a failover the standby slot is empty: nothing to promote, so no `suspect` detour.
  if (s.phase === 'failed-over' || s.phase === 'recovering') return stay(next);
  return enter(next, 'suspect', now);
}

const probeOk = (s: S): Transition => stay(countPrimaryOk(s));

function standbyFailedWhileServing(s: S, now: number, t: FailoverThresholds): Transition {
  const next = countStandbyFailure(s, now);
  if (next.standby === 'streaming' && standbyGone(next, now, t)) {
    const lost: S = { ...next, standby: 'rebuilding', syncSuspended: true, attempts: 0 };
    const effects: FailoverEffect[] = [
      { kind: 'suspend-sync' },
      notify('zero-loss-suspended', `${s.region}: standby lost; commits no longer wait for it — zero-loss promise suspended until a new standby is synchronous`),
      { kind: 'rebuild-standby' },
    ];
    return s.phase === 'healthy' ? enter(lost, 'standby-lost', now, {}, effects) : stay(lost, effects);
  }
  if (next.standby === 'lost') return retryRebuildIfDue(next, now);
  return stay(next);
}

/** An event that means nothing in this phase (stale or irrelevant): no change, no effect. */
const ignore = (s: S): Transition => stay(s);
/** An expected event this phase deliberately does not act on (see the phase's comment). */
const tolerate = ignore;

// ---- the table ------------------------------------------------------------------------

function failedOver(s: S, now: number): Transition {
  return enter(s, 'failed-over', now, { standby: 'lost', syncSuspended: true, primaryFailures: 0, primaryFailingSince: null, standbyFailures: 0, standbyFailingSince: null, attempts: 0 }, [
    { kind: 'repoint-api' },
    { kind: 'restore-replication' },
    { kind: 'repair-global-tables' },
    notify('failed-over', `${s.region}: standby promoted and serving; the zero-loss promise is suspended until a new standby is synchronous`),
    { kind: 'report', event: 'failover-steps-done' },
  ]);
}

/** A rebuild started earlier may finish in any phase that still has the primary serving. */
const common: { readonly 'standby-rebuilt': Cell<'standby-rebuilt'>; readonly 'rebuild-failed': Cell<'rebuild-failed'> } = {
  'standby-rebuilt': (s) => stay(rebuilt(s)),
  'rebuild-failed': (s, e, now, t) => stay(rebuildFailed(s, e, now, t)),
};

export const TRANSITIONS: TransitionTable = {
  healthy: {
    'probe-ok': probeOk,
    'probe-failed': probeFailedWhileServing,
    'standby-ok': (s) => stay(standbyOkCounters(s)),
    'standby-failed': (s, _e, now, t) => standbyFailedWhileServing(s, now, t),
    'fence-done': ignore,
    'fence-failed': ignore,
    'promote-done': ignore,
    'promote-failed': ignore,
    'failover-steps-done': ignore,
    'standby-rebuilt': common['standby-rebuilt'],
    'rebuild-failed': ignore,
    'switchover-requested': (s, _e, now) =>
      enter(s, 'switching-over', now, { failoverId: failoverIdAt(s.region, now), attempts: 0 }, [
        notify('switchover-started', `${s.region}: planned switchover started`),
        { kind: 'planned-switchover' },
      ]),
    'switchover-done': ignore,
    'switchover-failed': ignore,
  },
  suspect: {
    'probe-ok': (s, _e, now, t) => {
      const next = countPrimaryOk(s);
      return next.primaryOks >= t.recoverAfterProbes ? backInService(next, now) : stay(next);
    },
    'probe-failed': (s, e, now, t) => {
      const next = { ...countPrimaryFailure(s, now), lastError: e.detail ?? null };
      return primaryDead(next, now, t) ? declarePrimaryDead(next, now) : stay(next);
    },
    'standby-ok': (s) => stay(standbyOkCounters(s)),
    'standby-failed': (s, _e, now, t) => standbyFailedWhileServing(s, now, t),
    'fence-done': ignore,
    'fence-failed': ignore,
    'promote-done': ignore,
    'promote-failed': ignore,
    'failover-steps-done': ignore,
    ...common,
    'switchover-requested': refuseSwitchover,
    'switchover-done': ignore,
    'switchover-failed': ignore,
  },
  failed: {
    // Fencing is under way: the verdict stands even if the old primary answers now.
    'probe-ok': tolerate,
    'probe-failed': tolerate,
    'standby-ok': (s) => stay(standbyOkCounters(s)),
    'standby-failed': (s, _e, now) => stay(countStandbyFailure(s, now)),
    'fence-done': (s, _e, now) => enter(s, 'promoting', now, { attempts: 0 }, [{ kind: 'promote-standby' }]),
    'fence-failed': (s, e, now, t) => {
      const attempts = s.attempts + 1;
      if (attempts < t.maxAttempts) {
        return stay({ ...s, attempts, lastError: e.detail ?? 'fence failed' }, [notify('fence-failed', `${s.region}: fencing failed (${e.detail ?? 'unknown'}); retrying`), { kind: 'fence-primary' }]);
      }
      // Never promote beside an unfenced primary: two writable nodes would diverge.
      return enter(s, 'down', now, { attempts: 0, retryAt: Number.POSITIVE_INFINITY, lastError: e.detail ?? 'fence failed' }, [
        { kind: 'record-step', step: 'promote', status: 'not_run', detail: { reason: 'old primary could not be fenced' } },
        notify('failover-failed', `${s.region}: could not fence the old primary after ${attempts} attempts; not promoting. Operator needed.`),
      ]);
    },
    'promote-done': ignore,
    'promote-failed': ignore,
    'failover-steps-done': ignore,
    ...common,
    'switchover-requested': refuseSwitchover,
    'switchover-done': ignore,
    'switchover-failed': ignore,
  },
  promoting: {
    // The slot being probed is the fenced old primary until the roles swap.
    'probe-ok': tolerate,
    'probe-failed': tolerate,
    'standby-ok': tolerate,
    'standby-failed': tolerate,
    'fence-done': ignore,
    'fence-failed': ignore,
    'promote-done': (s, _e, now) => failedOver(s, now),
    'promote-failed': (s, e, now, t) => {
      const attempts = s.attempts + 1;
      if (attempts < t.maxAttempts) return stay({ ...s, attempts, lastError: e.detail ?? 'promote failed' }, [{ kind: 'promote-standby' }]);
      return enter(s, 'down', now, { standby: 'lost', attempts: 0, retryAt: Number.POSITIVE_INFINITY, lastError: e.detail ?? 'promote failed' }, [
        { kind: 'record-step', step: 'repoint-api', status: 'not_run', detail: { reason: 'promotion failed' } },
        notify('failover-failed', `${s.region}: the standby could not be promoted (${e.detail ?? 'unknown'}); the region's database is down. Revive the old primary or rebuild.`),
      ]);
    },
    'failover-steps-done': ignore,
    'standby-rebuilt': ignore,
    'rebuild-failed': ignore,
    'switchover-requested': refuseSwitchover,
    'switchover-done': ignore,
    'switchover-failed': ignore,
  },
  'failed-over': {
    'probe-ok': probeOk,
    'probe-failed': probeFailedWhileServing,
    'standby-ok': tolerate,
    'standby-failed': tolerate,
    'fence-done': ignore,
    'fence-failed': ignore,
    'promote-done': ignore,
    'promote-failed': ignore,
    'failover-steps-done': (s, _e, now) => enter(s, 'recovering', now, { standby: 'rebuilding', attempts: 0 }, [{ kind: 'rebuild-standby' }]),
    'standby-rebuilt': ignore,
    'rebuild-failed': ignore,
    'switchover-requested': refuseSwitchover,
    'switchover-done': ignore,
    'switchover-failed': ignore,
  },
  recovering: {
    'probe-ok': probeOk,
    'probe-failed': probeFailedWhileServing,
    'standby-ok': (s) => stay(standbyOkCounters(s)),
    'standby-failed': (s, _e, now) => retryRebuildIfDue(countStandbyFailure(s, now), now),
    'fence-done': ignore,
    'fence-failed': ignore,
    'promote-done': ignore,
    'promote-failed': ignore,
    'failover-steps-done': ignore,
    'standby-rebuilt': (s, _e, now) =>
      enter(rebuilt(s), 'healthy', now, { failoverId: null }, [notify('zero-loss-restored', `${s.region}: new standby synchronous; zero-loss promise restored`)]),
    'rebuild-failed': (s, e, now, t) => {
      const next = rebuildFailed(s, e, now, t);
      return stay(next, [notify('rebuild-failed', `${s.region}: standby rebuild failed (${next.lastError}); retrying in ${next.retryAt - now} ms`)]);
    },
    'switchover-requested': refuseSwitchover,
    'switchover-done': ignore,
    'switchover-failed': ignore,
  },
  'standby-lost': {
    'probe-ok': probeOk,
    'probe-failed': probeFailedWhileServing,
    'standby-ok': (s, _e, now) =>
      // A standby that came back by itself (a failed rebuild may leave one streaming).
      s.standby === 'lost' ? enter({ ...standbyOkCounters(s), standby: 'streaming', syncSuspended: false }, 'healthy', now, {}, [{ kind: 'resume-sync' }]) : stay(standbyOkCounters(s)),
    'standby-failed': (s, _e, now) => retryRebuildIfDue(countStandbyFailure(s, now), now),
    'fence-done': ignore,
    'fence-failed': ignore,
    'promote-done': ignore,
    'promote-failed': ignore,
    'failover-steps-done': ignore,
    'standby-rebuilt': (s, _e, now) => enter(rebuilt(s), 'healthy', now, {}, [notify('zero-loss-restored', `${s.region}: standby rebuilt and synchronous; zero-loss promise restored`)]),
    'rebuild-failed': (s, e, now, t) => {
      const next = rebuildFailed(s, e, now, t);
      return stay(next, [notify('rebuild-failed', `${s.region}: standby rebuild failed (${next.lastError}); retrying in ${next.retryAt - now} ms`)]);
    },
    'switchover-requested': refuseSwitchover,
    'switchover-done': ignore,
    'switchover-failed': ignore,
  },
  'switching-over': {
    // The executor stops writes and the old primary itself: probes say nothing new.
    'probe-ok': tolerate,
    'probe-failed': tolerate,
    'standby-ok': tolerate,
    'standby-failed': tolerate,
    'fence-done': ignore,
    'fence-failed': ignore,
    'promote-done': ignore,
    'promote-failed': ignore,
    'failover-steps-done': ignore,
    'standby-rebuilt': ignore,
    'rebuild-failed': ignore,
    'switchover-requested': refuseSwitchover,
    'switchover-done': (s, _e, now) =>
      enter(s, 'recovering', now, { standby: 'rebuilding', syncSuspended: true, primaryFailures: 0, primaryFailingSince: null, standbyFailures: 0, standbyFailingSince: null, attempts: 0 }, [
        { kind: 'restore-replication' },
        { kind: 'repair-global-tables' },
        notify('switched-over', `${s.region}: switchover done with no loss; rebuilding the old primary as the new standby`),
        { kind: 'rebuild-standby' },
      ]),
    'switchover-failed': (s, e, now) => {
      if (e.promoted) return failedOver(s, now);
      const back = backInService({ ...s, failoverId: null }, now);
      return { state: back.state, effects: [notify('switchover-failed', `${s.region}: switchover failed before promotion (${e.detail ?? 'unknown'}); the old primary keeps serving`), ...back.effects] };
    },
  },
  down: {
    'probe-ok': (s, _e, now) =>
      enter({ ...countPrimaryOk(s), standby: 'rebuilding', syncSuspended: true, attempts: 0, retryAt: 0, failoverId: null, lastError: null }, 'standby-lost', now, {}, [
        notify('region-back', `${s.region}: primary answers again; rebuilding its standby (zero-loss promise suspended until then)`),
        { kind: 'suspend-sync' },
        { kind: 'rebuild-standby' },
      ]),
    'probe-failed': (s, _e, now, t) => {
      if (now < s.retryAt) return stay(s);
      const attempts = s.attempts + 1;
      return stay({ ...s, attempts, retryAt: now + backoff(attempts, t) }, [{ kind: 'restart-primary' }]);
    },
    'standby-ok': tolerate,
    'standby-failed': tolerate,
    'fence-done': ignore,
    'fence-failed': ignore,
    'promote-done': ignore,
    'promote-failed': ignore,
    'failover-steps-done': ignore,
    'standby-rebuilt': ignore,
    'rebuild-failed': ignore,
    'switchover-requested': refuseSwitchover,
    'switchover-done': ignore,
    'switchover-failed': ignore,
  },
};
