import { TRANSITIONS, type Cell } from './transitions';
import { DEFAULT_THRESHOLDS, type EventType, type FailoverEvent, type FailoverThresholds, type RegionFailoverState, type Transition } from './types';

/** A healthy region with a streaming synchronous standby and every counter at zero. */
export function healthyRegion(region: string, now: number): RegionFailoverState {
  return {
    region,
    phase: 'healthy',
    since: now,
    primaryFailures: 0,
    primaryFailingSince: null,
    primaryOks: 0,
    standbyFailures: 0,
    standbyFailingSince: null,
    standby: 'streaming',
    syncSuspended: false,
    failoverId: null,
    attempts: 0,
    retryAt: 0,
    lastError: null,
  };
}

/**
 * A region's state when the orchestrator starts: the primary is assumed up and the standby
 * is built afresh (a standby left from an earlier run may follow an old primary), so the
 * zero-loss promise is suspended until it is synchronous.
 */
export function startRegion(region: string, now: number): Transition {
  return {
    state: { ...healthyRegion(region, now), phase: 'standby-lost', standby: 'rebuilding', syncSuspended: true },
    effects: [{ kind: 'suspend-sync' }, { kind: 'rebuild-standby' }],
  };
}

/** The whole machine: look the cell up and apply it. Pure; `now` is the injected clock's reading. */
export function transition(state: RegionFailoverState, event: FailoverEvent, now: number, thresholds: FailoverThresholds = DEFAULT_THRESHOLDS): Transition {
  const cell = TRANSITIONS[state.phase][event.type] as Cell<EventType>;
  return cell(state, event as never, now, thresholds);
}

export type ZeroLossPromise = 'kept' | 'suspended';

/** What the status view says about the zero-loss promise. */
export function zeroLossPromise(state: RegionFailoverState): ZeroLossPromise {
  return state.syncSuspended || state.standby !== 'streaming' ? 'suspended' : 'kept';
}

export function describe(state: RegionFailoverState): string {
  const promise = zeroLossPromise(state) === 'kept' ? 'zero-loss promise kept (synchronous standby)' : 'zero-loss promise suspended (no synchronous standby)';
  return `${state.region}: ${state.phase}; standby ${state.standby}; ${promise}${state.lastError ? `; last error: ${state.lastError}` : ''}`;
}
