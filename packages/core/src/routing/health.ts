/**
 * Region health as the edge sees it: a two-state machine with hysteresis. A region goes
 * down only after `downAfter` failed checks in a row and comes back only after `upAfter`
 * good ones in a row, so one slow or lost probe never moves traffic (ARCHITECTURE.md §4.4).
 */
export const HEALTH_STATES = ['up', 'down'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export interface HealthThresholds {
  /** Consecutive failed checks that take an up region down. */
  readonly downAfter: number;
  /** Consecutive good checks that bring a down region back. */
  readonly upAfter: number;
}

export interface RegionHealth {
  readonly state: HealthState;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  readonly checks: number;
  readonly failures: number;
  /** Epoch ms of the last check, or null before the first one. */
  readonly lastCheckAt: number | null;
  /** Epoch ms of the last state change (or of creation). */
  readonly since: number;
  readonly lastError: string | null;
}

export type CheckOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * A region starts up: the edge serves traffic from its first second, and a region that is
 * really down is taken out after `downAfter` checks like any other failure.
 */
export function initialHealth(now: number): RegionHealth {
  return {
    state: 'up',
    consecutiveFailures: 0,
    consecutiveSuccesses: 0,
    checks: 0,
    failures: 0,
    lastCheckAt: null,
    since: now,
    lastError: null,
  };
}

export interface HealthTransition {
  readonly health: RegionHealth;
  /** The state before the check, when it changed; undefined otherwise. */
  readonly changedFrom?: HealthState;
}

/** Applies one check result. Pure: the caller owns the clock and the probe. */
export function applyCheck(health: RegionHealth, outcome: CheckOutcome, thresholds: HealthThresholds, now: number): HealthTransition {
  const consecutiveFailures = outcome.ok ? 0 : health.consecutiveFailures + 1;
  const consecutiveSuccesses = outcome.ok ? health.consecutiveSuccesses + 1 : 0;
  const base = {
    consecutiveFailures,
    consecutiveSuccesses,
    checks: health.checks + 1,
    failures: health.failures + (outcome.ok ? 0 : 1),
    lastCheckAt: now,
    lastError: outcome.ok ? health.lastError : outcome.error,
  };
  let state: HealthState = health.state;
  if (health.state === 'up' && consecutiveFailures >= thresholds.downAfter) state = 'down';
  else if (health.state === 'down' && consecutiveSuccesses >= thresholds.upAfter) state = 'up';
  if (state === health.state) return { health: { ...health, ...base } };
  return { health: { ...base, state, since: now }, changedFrom: health.state };
}

/**
 * The soonest a down region can be back, in whole seconds: what a 503 tells clients in
 * Retry-After. At least one second, as the header cannot say less.
 */
export function retryAfterSeconds(health: { readonly intervalMs: number; readonly upAfter: number }): number {
  return Math.max(1, Math.ceil((health.intervalMs * health.upAfter) / 1000));
}
