import type { Redis } from 'ioredis';
import type { RateLimit } from './security-config';
import { TokenBuckets, type Take } from './token-bucket';

/** Token buckets by key (an IP, an organization), wherever their counters live. */
export interface RateLimiter {
  readonly kind: 'memory' | 'redis';
  take(key: string): Promise<Take>;
  close(): Promise<void>;
}

/** Counters in this process: N API processes admit up to N times the limit. */
export function memoryLimiter(limit: RateLimit, now: () => number = Date.now): RateLimiter {
  const buckets = new TokenBuckets(limit);
  return { kind: 'memory', take: async (key) => buckets.take(key, now()), close: async () => undefined };
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
  const perMs = limit.capacity / (limit.perSeconds * 1000);
  return {
    kind: 'redis',
    async take(key) {
      try {
        const [allowed, left] = await redis.atlasTake(`atlas:rl:${region}:${scope}:${key}`, limit.capacity, perMs);
        if (allowed === 1) return { allowed: true };
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - Number(left)) / perMs / 1000)) };
      } catch (err) {
        events.fallback?.(err);
        return local.take(key, Date.now());
      }
    },
    // The connection belongs to the caller.
    close: async () => undefined,
  };
}
