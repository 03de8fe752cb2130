import type { AtlasDb } from '@atlas/db';
import type { ApiConfig } from './config';
import type { GlobalRowCache } from './lib/cache';
import type { DocumentStore } from './lib/document-store';
import type { ApiMetrics } from './plugins/metrics';

/** What every route can reach: decorated on the app as `atlas`. */
export interface AppContext {
  readonly config: ApiConfig;
  readonly db: AtlasDb;
  readonly documents: DocumentStore;
  readonly metrics: ApiMetrics;
  /** Global rows, invalidated by the database's change notifications. */
  readonly cache: GlobalRowCache;
}

declare module 'fastify' {
  interface FastifyInstance {
    atlas: AppContext;
  }
}
