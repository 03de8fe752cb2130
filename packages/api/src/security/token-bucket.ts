import { LRUCache } from 'lru-cache';
import type { RateLimit } from './security-config';

/** The verdict for one request: allowed, or refused with the seconds until a token is back. */
export type Take = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token buckets by key (an IP, an organization): each holds up to `capacity` tokens and
 * regains capacity / perSeconds tokens a second; a request takes one. The clock is passed in.
 * Per process: with N API tasks a region admits up to N times the limit; rate-limiter.ts runs
 * the same bucket in Redis when REDIS_URL is set.
 */
export class TokenBuckets {
  private readonly buckets = new LRUCache<string, Bucket>({ max: 100_000 });
  private readonly perMs: number;

  constructor(private readonly limit: RateLimit) {
    this.perMs = limit.capacity / (limit.perSeconds * 1000);
  }

  take(key: string, nowMs: number): Take {
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.capacity, updatedMs: nowMs };
    bucket.tokens = Math.min(this.limit.capacity, bucket.tokens + Math.max(0, nowMs - bucket.updatedMs) * this.perMs);
    bucket.updatedMs = nowMs;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
  }

  /**
   * Milliseconds until the key's bucket holds a whole token again, 0 if it holds one now (or is
   * unknown, i.e. full). Reads only: spends nothing, refills nothing, allocates nothing.
   */
  emptyForMs(key: string, nowMs: number): number {
    const bucket = this.buckets.peek(key);
    if (bucket === undefined) return 0;
    const tokens = bucket.tokens + Math.max(0, nowMs - bucket.updatedMs) * this.perMs;
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.perMs);
  }
}
