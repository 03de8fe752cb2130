import { describe, expect, it } from 'vitest';
import {
  applyCheck,
  initialHealth,
  isIdempotent,
  retryAfterSeconds,
  retryDelayMs,
  updateEwma,
  DEFAULT_RETRY_POLICY,
  type CheckOutcome,
  type RegionHealth,
} from '../src/index';

const T = { downAfter: 3, upAfter: 2 };
const ok: CheckOutcome = { ok: true };
const fail: CheckOutcome = { ok: false, error: 'ECONNREFUSED' };

function run(outcomes: readonly CheckOutcome[], start: RegionHealth = initialHealth(0)): RegionHealth[] {
  const out: RegionHealth[] = [];
  let h = start;
  outcomes.forEach((o, i) => {
    h = applyCheck(h, o, T, (i + 1) * 1000).health;
    out.push(h);
  });
  return out;
}

describe('region health (hysteresis)', () => {
  it('goes down only on the Nth failure in a row', () => {
    expect(run([fail, fail, fail]).map((h) => h.state)).toEqual(['up', 'up', 'down']);
  });
  it('a success in between resets the count', () => {
    const states = run([fail, fail, ok, fail, fail, ok, fail, fail]).map((h) => h.state);
    expect(states.every((s) => s === 'up')).toBe(true);
  });
  it('comes back only after M successes in a row', () => {
    const states = run([fail, fail, fail, ok, fail, ok, ok]).map((h) => h.state);
    expect(states).toEqual(['up', 'up', 'down', 'down', 'down', 'down', 'up']);
  });
  it('reports the change and when it happened', () => {
    let h = initialHealth(0);
    for (const t of [1000, 2000]) h = applyCheck(h, fail, T, t).health;
    const t = applyCheck(h, fail, T, 3000);
    expect(t.changedFrom).toBe('up');
    expect(t.health).toMatchObject({
      state: 'down',
      since: 3000,
      consecutiveFailures: 3,
      checks: 3,
      failures: 3,
      lastError: 'ECONNREFUSED',
    });
    expect(applyCheck(t.health, fail, T, 4000).changedFrom).toBeUndefined();
  });
  it('Retry-After is the time M good checks take, at least 1 s', () => {
    expect(retryAfterSeconds({ intervalMs: 1000, upAfter: 2 })).toBe(2);
    expect(retryAfterSeconds({ intervalMs: 30_000, upAfter: 2 })).toBe(60);
    expect(retryAfterSeconds({ intervalMs: 100, upAfter: 2 })).toBe(1);
  });
});

describe('EWMA', () => {
  it('starts at the first sample and moves by alpha', () => {
    expect(updateEwma(null, 10)).toBe(10);
    expect(updateEwma(10, 20, 0.5)).toBe(15);
    expect(updateEwma(10, 20, 0.3)).toBeCloseTo(13);
  });
  it('ignores samples that are not durations', () => {
    expect(updateEwma(10, Number.NaN)).toBe(10);
    expect(updateEwma(10, -1)).toBe(10);
  });
  it('refuses a meaningless alpha', () => {
    expect(() => updateEwma(1, 1, 0)).toThrow(RangeError);
  });
});

describe('retry policy', () => {
  const net = { kind: 'network-error' } as const;
  it.each([
    ['GET', net, 0, 25, 50],
    ['PUT', { kind: 'response', status: 503 } as const, 1, 50, 100],
    ['DELETE', { kind: 'response', status: 504 } as const, 0, 25, 50],
    ['OPTIONS', { kind: 'response', status: 502 } as const, 0, 25, 50],
  ])('%s after %j, attempt %i: between %i and %i ms', (method, outcome, attempt, min, max) => {
    for (const r of [0, 0.5, 1]) {
      const d = retryDelayMs(method, outcome, attempt, DEFAULT_RETRY_POLICY, r)!;
      expect(d).toBeGreaterThanOrEqual(min);
      expect(d).toBeLessThanOrEqual(max);
    }
  });
  it.each([
    ['POST', net],
    ['PATCH', net],
    ['GET', { kind: 'response', status: 500 } as const],
    ['GET', { kind: 'response', status: 421 } as const],
  ])('never retries %s after %j', (method, outcome) => {
    expect(retryDelayMs(method, outcome, 0, DEFAULT_RETRY_POLICY, 0.5)).toBeNull();
  });
  it('stops after maxRetries and caps the delay', () => {
    expect(retryDelayMs('GET', net, 2, DEFAULT_RETRY_POLICY, 0)).toBeNull();
    expect(retryDelayMs('GET', net, 9, { maxRetries: 20, baseDelayMs: 50, maxDelayMs: 400 }, 1)).toBe(400);
  });
  it('knows the idempotent methods', () => {
    expect(['GET', 'head', 'PUT', 'DELETE', 'OPTIONS'].every(isIdempotent)).toBe(true);
    expect(['POST', 'PATCH'].some(isIdempotent)).toBe(false);
  });
});
