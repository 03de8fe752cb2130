import { LRUCache } from 'lru-cache';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * The cache for global rows. In-process LRU by default; Redis (ElastiCache in AWS) when
 * REDIS_URL is set. Entries are invalidated by the database's logical decoding stream
 * (lib/change-listener.ts), so a TTL is only a safety net, not the coherence mechanism.
 */
export interface GlobalCache {
  readonly kind: 'memory' | 'redis' | 'none';
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T): Promise<void>;
  delete(key: string): Promise<void>;
  clear(): Promise<void>;
  close(): Promise<void>;
  /** Which of the needles appear in any cached value (the residency proof's cache probe). */
  search?(needles: readonly string[]): Promise<string[]>;
}

const within = (texts: Iterable<string>, needles: readonly string[]) => {
  const found = new Set<string>();
  for (const text of texts) for (const n of needles) if (text.includes(n)) found.add(n);
  return [...found];
};

const SAFETY_TTL_MS = 5 * 60_000;

export function memoryCache(max = 10_000): GlobalCache {
  const lru = new LRUCache<string, { value: unknown }>({ max, ttl: SAFETY_TTL_MS });
  return {
    kind: 'memory',
    get: async <T>(key: string) => lru.get(key)?.value as T | undefined,
    set: async (key, value) => void lru.set(key, { value }),
    delete: async (key) => void lru.delete(key),
    clear: async () => lru.clear(),
    close: async () => lru.clear(),
    search: async (needles) => within([...lru.values()].map((v) => JSON.stringify(v.value)), needles),
  };
}

/** No cache: every read goes to the database (when no invalidation stream is configured). */
export function noCache(): GlobalCache {
  return {
    kind: 'none',
    get: async () => undefined,
    set: async () => undefined,
    delete: async () => undefined,
    clear: async () => undefined,
    close: async () => undefined,
    search: async () => [],
  };
}

/**
 * Redis-backed cache. `rediss://` URLs use TLS; a password in the URL (or REDIS_PASSWORD)
 * authenticates. Keys are prefixed per region: a shared Redis never mixes regions' entries.
 */
export function redisCache(url: string, region: string, options: RedisOptions = {}): GlobalCache {
  const redis = new Redis(url, {
    keyPrefix: `atlas:${region}:`,
    lazyConnect: false,
    // A cache must never make a request wait on an unreachable Redis: commands fail fast
    // (no offline queue, one retry, a short timeout) and the caller reads the database.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 250,
    ...(url.startsWith('rediss://') ? { tls: {} } : {}),
    ...(process.env.REDIS_PASSWORD ? { password: process.env.REDIS_PASSWORD } : {}),
    ...options,
  });
  redis.on('error', () => undefined);
  const ttlSeconds = SAFETY_TTL_MS / 1000;
  return {
    kind: 'redis',
    get: async <T>(key: string) => {
      const text = await redis.get(key);
      return text === null ? undefined : (JSON.parse(text) as T);
    },
    set: async (key, value) => void (await redis.set(key, JSON.stringify(value), 'EX', ttlSeconds)),
    delete: async (key) => void (await redis.del(key)),
    clear: async () => {
      // Only this region's keys: SCAN the prefix rather than FLUSHDB a shared instance.
      const prefix = `atlas:${region}:`;
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)));
      } while (cursor !== '0');
    },
    close: async () => void (await redis.quit().catch(() => redis.disconnect())),
    search: async (needles) => {
      const prefix = `atlas:${region}:`;
      const texts: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) texts.push((await redis.get(key.slice(prefix.length))) ?? '');
      } while (cursor !== '0');
      return within(texts, needles);
    },
  };
}

/** Read-through: a hit returns the cached value; a miss loads, stores what exists, returns it. */
export async function readThrough<T>(
  cache: GlobalCache,
  key: string,
  load: () => Promise<T | undefined>,
  counters: { hit: () => void; miss: () => void },
): Promise<T | undefined> {
  const cached = await cache.get<T>(key).catch(() => undefined);
  if (cached !== undefined) {
    counters.hit();
    return cached;
  }
  counters.miss();
  const value = await load();
  if (value !== undefined) await cache.set(key, value).catch(() => undefined);
  return value;
}

export interface CacheMetrics {
  hit(table: string): void;
  miss(table: string): void;
  invalidated(table: string): void;
}

/**
 * Global rows by table and key, kept coherent with the database: every committed change
 * (local or replicated) invalidates its entry. A value loaded while an invalidation arrived
 * is returned but not stored, so a slow read can never put back a value older than a
 * change already announced.
 */
export class GlobalRowCache {
  private generation = 0;
  /** Keys whose invalidation is on its way to the store: their entries may be stale. */
  private readonly inFlight = new Map<string, number>();
  /**
   * Set when an invalidation could not be confirmed (the store did not answer): some entry
   * may be stale, so nothing is read from the store until a clear succeeds.
   */
  private untrusted = false;
  /** Unconfirmed invalidations so far: a clear only restores trust if none failed meanwhile. */
  private failures = 0;
  /**
   * No invalidation stream is running (not yet connected, or lost): nothing could tell a
   * cached entry is stale, so reads go to the database until the next reset.
   */
  private suspended = false;

  constructor(
    readonly store: GlobalCache,
    private readonly metrics: CacheMetrics,
  ) {}

  async read<T>(table: string, key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const entry = `${table}:${key}`;
    const usable = !this.suspended && !this.inFlight.has(entry) && (!this.untrusted || (await this.retrust()));
    const cached = usable ? await this.store.get<T>(entry).catch(() => undefined) : undefined;
    if (cached !== undefined) {
      this.metrics.hit(table);
      return cached;
    }
    this.metrics.miss(table);
    const before = this.generation;
    const value = await load();
    if (usable && value !== undefined && this.generation === before) await this.store.set(entry, value).catch(() => undefined);
    return value;
  }

  async invalidate(table: string, key: string): Promise<void> {
    const entry = `${table}:${key}`;
    this.generation += 1;
    this.metrics.invalidated(table);
    this.inFlight.set(entry, (this.inFlight.get(entry) ?? 0) + 1);
    try {
      await this.store.delete(entry);
    } catch {
      this.untrusted = true;
      this.failures += 1;
    } finally {
      const left = (this.inFlight.get(entry) ?? 1) - 1;
      if (left > 0) this.inFlight.set(entry, left);
      else this.inFlight.delete(entry);
    }
  }

  /** Stop using the cache until the next reset (the invalidation stream is down). */
  suspend(): void {
    this.generation += 1;
    this.suspended = true;
  }

  /** Whether reads bypass the cache because no invalidation stream runs. */
  get isSuspended(): boolean {
    return this.suspended;
  }

  /**
   * A (re)started invalidation stream: nothing cached before it is known to be fresh, so drop
   * everything, and use the cache again once the clear went through.
   */
  async reset(): Promise<void> {
    this.suspended = false;
    this.generation += 1;
    this.untrusted = true;
    this.failures += 1;
    await this.retrust();
  }

  /** Whether the store can be read again: true once a full clear has gone through. */
  private async retrust(): Promise<boolean> {
    const seen = this.failures;
    try {
      await this.store.clear();
      if (this.failures === seen) this.untrusted = false;
    } catch {
      // still unreachable: keep reading the database
    }
    return !this.untrusted;
  }
}
