import type { Redis } from 'ioredis';
import type { RateLimit } from './security-config';
import { TokenBuckets, type Take } from './token-bucket';

/** Token buckets by key (an IP, an organization), wherever their counters live. */
export interface RateLimiter {
  readonly kind: 'memory' | 'redis';
  take(key: string): Promise<Take>;
  /**
   * Milliseconds for which `key` is known to be refused (its bucket holds no whole token), 0 when
   * it may have budget. Synchronous, spends nothing, refills nothing: the cheap test of the
   * earliest hook, safe to run for a key nobody has proved is theirs.
   */
  refusedForMs(key: string, nowMs: number): number;
  close(): Promise<void>;
}

/** Counters in this process: N API processes admit up to N times the limit. */
export function memoryLimiter(limit: RateLimit, now: () => number = Date.now): RateLimiter {
  const buckets = new TokenBuckets(limit);
  return {
    kind: 'memory',
    take: async (key) => buckets.take(key, now()),
    refusedForMs: (key, nowMs) => buckets.emptyForMs(key, nowMs),
    close: async () => undefined,
  };
}

const MEMO_MAX = 100_000;

/**
 * Until when a key was last refused, on this process's clock. Exact for as long as it lasts:
 * only time puts tokens back into a bucket, so a bucket found empty stays empty until then,
 * whichever process looks. Bounded: past MEMO_MAX keys, expired ones go, then all (a forgotten
 * key only costs its next request a round trip to the shared counter).
 */
class RefusalMemo {
  private readonly until = new Map<string, number>();

  remember(key: string, untilMs: number, nowMs: number): void {
    if (this.until.size >= MEMO_MAX && !this.until.has(key)) {
      for (const [k, t] of this.until) if (t <= nowMs) this.until.delete(k);
      if (this.until.size >= MEMO_MAX) this.until.clear();
    }
    this.until.set(key, untilMs);
  }

  refusedForMs(key: string, nowMs: number): number {
    const until = this.until.get(key);
    return until === undefined || until <= nowMs ? 0 : until - nowMs;
  }
}

/**
 * The token bucket of token-bucket.ts, run atomically inside Redis, on Redis's clock (so that
 * processes whose clocks differ share one bucket). Returns {allowed, tokens left}; the bucket
 * expires once it would be full again, so idle keys cost nothing.
 */
const TAKE = `
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * per_ms)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / per_ms) + 1000)
return { allowed, tostring(tokens) }
`;

type RedisWithTake = Redis & { atlasTake(key: string, capacity: number, perMs: number): Promise<[number, string]> };

/** What a Redis-backed limiter reports: a Redis failure is answered by the in-process bucket. */
export interface RedisLimiterEvents {
  fallback?(err: unknown): void;
}

/**
 * Counters shared by every API process of the region through Redis: a region admits the limit,
 * however many tasks serve it. Keys: atlas:rl:<region>:<scope>:<key>. When Redis cannot answer
 * (the connection's command timeout, no offline queue) the request is judged by this process's
 * own bucket instead: rate limiting degrades to per-process; it never takes the API down.
 */
export function redisLimiter(connection: Redis, region: string, scope: string, limit: RateLimit, events: RedisLimiterEvents = {}): RateLimiter {
  const redis = connection as RedisWithTake;
  if (!redis.atlasTake) redis.defineCommand('atlasTake', { numberOfKeys: 1, lua: TAKE });
  const local = new TokenBuckets(limit);
  const refused = new RefusalMemo();
  const perMs = limit.capacity / (limit.perSeconds * 1000);
  return {
    kind: 'redis',
    async take(key) {
      try {
        const [allowed, left] = await redis.atlasTake(`atlas:rl:${region}:${scope}:${key}`, limit.capacity, perMs);
        if (allowed === 1) return { allowed: true };
        const waitMs = Math.ceil((1 - Number(left)) / perMs);
        const now = Date.now();
        refused.remember(key, now + waitMs, now);
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      } catch (err) {
        events.fallback?.(err);
        const now = Date.now();
        const take = local.take(key, now);
        if (!take.allowed) refused.remember(key, now + local.emptyForMs(key, now), now);
        return take;
      }
    },
    refusedForMs: (key, nowMs) => refused.refusedForMs(key, nowMs),
    // The connection belongs to the caller.
    close: async () => undefined,
  };
}
