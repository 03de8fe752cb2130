import { InjectionToken } from '@angular/core';

/**
 * Every browser global the app touches goes through one of these tokens, so that specs run
 * under jsdom with a fake clock, fake timers, a scripted fetch and an in-memory storage.
 */

/** Monotonic milliseconds (performance.now in the browser): latency is measured with it. */
export const CLOCK = new InjectionToken<() => number>('atlas.clock', {
  providedIn: 'root',
  factory: () => () => performance.now(),
});

/** Wall-clock milliseconds since the epoch (Date.now): for "checked at" and deadlines. */
export const WALL_CLOCK = new InjectionToken<() => number>('atlas.wall-clock', {
  providedIn: 'root',
  factory: () => () => Date.now(),
});

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const TIMERS = new InjectionToken<Timers>('atlas.timers', {
  providedIn: 'root',
  factory: () => ({
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (h) => window.clearTimeout(h as number),
    setInterval: (fn, ms) => window.setInterval(fn, ms),
    clearInterval: (h) => window.clearInterval(h as number),
  }),
});

/** The raw fetch, for probes and latency reports (which must not go through the interceptor). */
export const FETCH = new InjectionToken<typeof fetch>('atlas.fetch', {
  providedIn: 'root',
  factory: () => (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init),
});

/** Key-value storage (localStorage): the session and the manual region choice survive reloads. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const STORAGE = new InjectionToken<KeyValueStorage>('atlas.storage', {
  providedIn: 'root',
  factory: (): KeyValueStorage => {
    try {
      return window.localStorage;
    } catch {
      // Storage can be disabled (private mode, policies): the app still works for this tab.
      const memory = new Map<string, string>();
      return { getItem: (k) => memory.get(k) ?? null, setItem: (k, v) => void memory.set(k, v), removeItem: (k) => void memory.delete(k) };
    }
  },
});

/** What the app reads from navigator: whether the browser believes it is online. */
export interface NavigatorInfo {
  readonly onLine: boolean;
  readonly language: string;
}

export const NAVIGATOR = new InjectionToken<NavigatorInfo>('atlas.navigator', {
  providedIn: 'root',
  factory: () => navigator,
});

/** Jitter for retry backoff, [0, 1). */
export const RANDOM = new InjectionToken<() => number>('atlas.random', {
  providedIn: 'root',
  factory: () => () => Math.random(),
});
