import type { KeyValueStorage, Timers } from './browser.tokens';
import type { RegionInfo } from './regions';

/** Fakes for the browser tokens, shared by the specs. */

export const REGIONS: RegionInfo[] = [
  {
    region: 'eu-west-1',
    code: 'euw1',
    displayName: 'Europe (Ireland)',
    jurisdiction: 'EU',
    drPartner: null,
    rttMs: { 'us-east-1': 68, 'ap-southeast-1': 177 },
  },
  {
    region: 'us-east-1',
    code: 'use1',
    displayName: 'US East (N. Virginia)',
    jurisdiction: 'US',
    drPartner: null,
    rttMs: { 'eu-west-1': 68, 'ap-southeast-1': 214 },
  },
  {
    region: 'ap-southeast-1',
    code: 'apse1',
    displayName: 'Asia Pacific (Singapore)',
    jurisdiction: 'APAC',
    drPartner: null,
    rttMs: { 'eu-west-1': 177, 'us-east-1': 214 },
  },
];

export class FakeTimers implements Timers {
  private next = 1;
  readonly timeouts = new Map<number, { fn: () => void; ms: number }>();
  readonly intervals = new Map<number, { fn: () => void; ms: number }>();
  /** Every delay ever asked for, in order (to check backoff). */
  readonly delays: number[] = [];

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timeouts.set(id, { fn, ms });
    this.delays.push(ms);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timeouts.delete(handle as number);
  }
  setInterval(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.intervals.set(id, { fn, ms });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.intervals.delete(handle as number);
  }
  /** Runs every pending timeout (not intervals), including ones they schedule. */
  runTimeouts(): void {
    for (let guard = 0; this.timeouts.size > 0 && guard < 100; guard++) {
      const [id, t] = this.timeouts.entries().next().value as [number, { fn: () => void }];
      this.timeouts.delete(id);
      t.fn();
    }
  }
}

export class MemoryStorage implements KeyValueStorage {
  readonly data = new Map<string, string>();
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.data.set(key, value);
  }
  removeItem(key: string): void {
    this.data.delete(key);
  }
}

/** A controllable monotonic clock. */
export interface FakeClock {
  now(): number;
  advance(ms: number): void;
  /** Resolves after `ms` of fake time; concurrent waits resolve in order of their due time. */
  after(ms: number): Promise<void>;
}

export function fakeClock(): FakeClock {
  let t = 1_000;
  const pending: { due: number; resolve: () => void }[] = [];
  let pumping = false;
  const pump = async () => {
    // Let every concurrent caller register its wait first (they start in the same tick).
    await new Promise((r) => setTimeout(r, 0));
    while (pending.length > 0) {
      pending.sort((a, b) => a.due - b.due);
      const next = pending.shift()!;
      t = Math.max(t, next.due);
      next.resolve();
      await new Promise((r) => setTimeout(r, 0));
    }
    pumping = false;
  };
  return {
    now: () => t,
    advance: (ms) => void (t += ms),
    after: (ms) =>
      new Promise<void>((resolve) => {
        pending.push({ due: t + ms, resolve });
        if (!pumping) {
          pumping = true;
          void pump();
        }
      }),
  };
}

export function jsonResponse(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}
