import { describe, expect, it } from 'vitest';
import {
  DEFAULT_THRESHOLDS,
  EVENT_TYPES,
  PHASES,
  TRANSITIONS,
  healthyRegion,
  startRegion,
  transition,
  zeroLossPromise,
  type EventType,
  type FailoverEvent,
  type Phase,
  type RegionFailoverState,
} from '../src/core/index';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const T = DEFAULT_THRESHOLDS;

const base: RegionFailoverState = healthyRegion('eu-west-1', NOW - 60_000);

/** A typical state for each phase, as the machine itself would leave it. */
const AT: Record<Phase, RegionFailoverState> = {
  healthy: base,
  suspect: { ...base, phase: 'suspect', primaryFailures: 1, primaryFailingSince: NOW - 100 },
  failed: { ...base, phase: 'failed', failoverId: 'f1', primaryFailures: 3, primaryFailingSince: NOW - 1_500 },
  promoting: { ...base, phase: 'promoting', failoverId: 'f1' },
  'failed-over': { ...base, phase: 'failed-over', failoverId: 'f1', standby: 'lost', syncSuspended: true },
  recovering: { ...base, phase: 'recovering', failoverId: 'f1', standby: 'rebuilding', syncSuspended: true },
  'standby-lost': { ...base, phase: 'standby-lost', standby: 'rebuilding', syncSuspended: true },
  'switching-over': { ...base, phase: 'switching-over', failoverId: 's1' },
  down: { ...base, phase: 'down', standby: 'lost', syncSuspended: true, attempts: 1, retryAt: NOW + 10_000 },
};

const event = (type: EventType): FailoverEvent => (type === 'switchover-failed' ? { type, promoted: false, detail: 'test' } : { type, detail: 'test' });

/**
 * Expected next phase and effect kinds for every phase × event, from the typical state.
 * '=' means: same phase, no effect.
 */
const EXPECTED: Record<Phase, Partial<Record<EventType, string>>> = {
  healthy: {
    'probe-failed': 'suspect:',
    'switchover-requested': 'switching-over: notify planned-switchover',
  },
  suspect: {
    'switchover-requested': 'suspect: notify',
  },
  failed: {
    'fence-done': 'promoting: promote-standby',
    'fence-failed': 'failed: notify fence-primary',
    'switchover-requested': 'failed: notify',
  },
  promoting: {
    'promote-done': 'failed-over: repoint-api restore-replication repair-global-tables notify report',
    'promote-failed': 'promoting: promote-standby',
    'switchover-requested': 'promoting: notify',
  },
  'failed-over': {
    'failover-steps-done': 'recovering: rebuild-standby',
    'switchover-requested': 'failed-over: notify',
  },
  recovering: {
    'standby-rebuilt': 'healthy: notify',
    'rebuild-failed': 'recovering: notify',
    'switchover-requested': 'recovering: notify',
  },
  'standby-lost': {
    'probe-failed': 'suspect:',
    'standby-rebuilt': 'healthy: notify',
    'rebuild-failed': 'standby-lost: notify',
    'switchover-requested': 'standby-lost: notify',
  },
  'switching-over': {
    'switchover-requested': 'switching-over: notify',
    'switchover-done': 'recovering: restore-replication repair-global-tables notify rebuild-standby',
    'switchover-failed': 'healthy: notify',
  },
  down: {
    'probe-ok': 'standby-lost: notify suspend-sync rebuild-standby',
    'switchover-requested': 'down: notify',
  },
};

describe('failover state machine: every phase × event cell', () => {
  it('the table has a cell for every phase and every event', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...PHASES].sort());
    for (const phase of PHASES) expect(Object.keys(TRANSITIONS[phase]).sort()).toEqual([...EVENT_TYPES].sort());
  });

  for (const phase of PHASES) {
    describe(phase, () => {
      it.each(EVENT_TYPES.map((e) => [e]))(`%s`, (type) => {
        const spec = EXPECTED[phase][type] ?? `${phase}:`;
        const [nextPhase, kinds = ''] = spec.split(':') as [Phase, string?];
        const next = transition(AT[phase], event(type), NOW, T);
        expect(next.state.phase).toBe(nextPhase);
        expect(next.effects.map((e) => e.kind)).toEqual(kinds.trim() === '' ? [] : kinds.trim().split(/\s+/));
        // A pure function: the input state is never mutated.
        expect(AT[phase].phase).toBe(phase);
      });
    });
  }
});

/** Feeds events at given offsets (ms from NOW) and returns every state reached. */
function run(start: RegionFailoverState, steps: ReadonlyArray<readonly [number, FailoverEvent]>) {
  let state = start;
  const seen: Array<{ phase: Phase; effects: string[] }> = [];
  for (const [at, e] of steps) {
    const next = transition(state, e, NOW + at, T);
    state = next.state;
    seen.push({ phase: state.phase, effects: next.effects.map((x) => x.kind) });
  }
  return { state, seen };
}

describe('failover state machine: thresholds and paths', () => {
  it('declares the primary failed only after enough probes AND enough time', () => {
    const quick = run(base, [
      [0, { type: 'probe-failed' }],
      [100, { type: 'probe-failed' }],
      [200, { type: 'probe-failed' }],
      [300, { type: 'probe-failed' }],
    ]);
    expect(quick.state.phase).toBe('suspect');
    const next = transition(quick.state, { type: 'probe-failed' }, NOW + T.primaryFailAfterMs, T);
    expect(next.state.phase).toBe('failed');
    expect(next.state.failoverId).toBe(`eu-west-1-${new Date(NOW + T.primaryFailAfterMs).toISOString()}`);
    expect(next.effects.map((e) => e.kind)).toEqual(['record-step', 'notify', 'fence-primary']);
  });

  it('intermittent slowness (failures that never reach the threshold in a row) never fails over', () => {
    const steps: Array<readonly [number, FailoverEvent]> = [];
    for (let i = 0; i < 200; i += 1) steps.push([i * 250, { type: i % 3 === 2 ? 'probe-ok' : 'probe-failed' }]);
    const { seen } = run(base, steps);
    expect(seen.some((s) => s.phase === 'suspect')).toBe(true);
    expect(seen.every((s) => s.phase === 'healthy' || s.phase === 'suspect')).toBe(true);
  });

  it('leaves suspect only after recoverAfterProbes good probes (hysteresis)', () => {
    const { seen } = run(base, [
      [0, { type: 'probe-failed' }],
      [250, { type: 'probe-ok' }],
      [500, { type: 'probe-ok' }],
    ]);
    expect(seen.map((s) => s.phase)).toEqual(['suspect', 'suspect', 'healthy']);
  });

  it('goes through the whole failover: fence, promote, repoint, repair, rebuild, healthy', () => {
    const { seen, state } = run(AT.suspect, [
      [0, { type: 'probe-failed' }],
      [1_000, { type: 'probe-failed' }],
      [1_010, { type: 'fence-done' }],
      [1_150, { type: 'promote-done' }],
      [1_200, { type: 'failover-steps-done' }],
      [3_000, { type: 'standby-rebuilt' }],
    ]);
    expect(seen.map((s) => s.phase)).toEqual(['suspect', 'failed', 'promoting', 'failed-over', 'recovering', 'healthy']);
    expect(zeroLossPromise(state)).toBe('kept');
  });

  it('never promotes beside an unfenced primary: after maxAttempts fence failures it is down, promote not run', () => {
    let state = AT.failed;
    let last: string[] = [];
    for (let i = 0; i < T.maxAttempts; i += 1) {
      const next = transition(state, { type: 'fence-failed', detail: 'EPERM' }, NOW + i, T);
      state = next.state;
      last = next.effects.map((e) => (e.kind === 'record-step' ? `${e.kind}:${e.step}:${e.status}` : e.kind));
    }
    expect(state.phase).toBe('down');
    expect(last).toEqual(['record-step:promote:not_run', 'notify']);
  });

  it('a promotion that keeps failing leaves the region down', () => {
    const { state } = run(AT.promoting, Array.from({ length: T.maxAttempts }, (_, i) => [i, { type: 'promote-failed' }] as const));
    expect(state.phase).toBe('down');
  });

  it('a lost standby suspends sync (and says so), rebuilds, and restores the promise', () => {
    const lost = run(base, [
      [0, { type: 'standby-failed' }],
      [400, { type: 'standby-failed' }],
      [T.standbyLostAfterMs, { type: 'standby-failed' }],
    ]);
    expect(lost.state.phase).toBe('standby-lost');
    expect(lost.seen.at(-1)!.effects).toEqual(['suspend-sync', 'notify', 'rebuild-standby']);
    expect(zeroLossPromise(lost.state)).toBe('suspended');
    const back = transition(lost.state, { type: 'standby-rebuilt' }, NOW + 5_000, T);
    expect(back.state.phase).toBe('healthy');
    expect(zeroLossPromise(back.state)).toBe('kept');
  });

  it('retries a failed rebuild only after the back-off', () => {
    const failed = transition(AT['standby-lost'], { type: 'rebuild-failed', detail: 'copy' }, NOW, T).state;
    expect(failed.standby).toBe('lost');
    expect(transition(failed, { type: 'standby-failed' }, NOW + 10, T).effects).toEqual([]);
    const due = transition(failed, { type: 'standby-failed' }, NOW + T.retryBackoffMs, T);
    expect(due.effects.map((e) => e.kind)).toEqual(['rebuild-standby']);
    expect(due.state.standby).toBe('rebuilding');
  });

  it('without a synchronous standby a dead primary means down, and a restart in place — never a promotion', () => {
    const start = { ...AT['standby-lost'], phase: 'suspect' as const, primaryFailures: 2, primaryFailingSince: NOW - 2_000 };
    const next = transition(start, { type: 'probe-failed' }, NOW, T);
    expect(next.state.phase).toBe('down');
    expect(next.effects.map((e) => e.kind)).toEqual(['record-step', 'notify', 'restart-primary']);
    expect(next.effects.some((e) => e.kind === 'promote-standby')).toBe(false);
  });

  it('a switchover that failed after promoting continues as a failover', () => {
    const next = transition(AT['switching-over'], { type: 'switchover-failed', promoted: true }, NOW, T);
    expect(next.state.phase).toBe('failed-over');
    expect(next.effects.map((e) => e.kind)).toContain('repoint-api');
  });

  it('starts a region by building a fresh standby, promise suspended until then', () => {
    const first = startRegion('us-east-1', NOW);
    expect(first.state.phase).toBe('standby-lost');
    expect(first.effects.map((e) => e.kind)).toEqual(['suspend-sync', 'rebuild-standby']);
    expect(zeroLossPromise(first.state)).toBe('suspended');
  });
});
