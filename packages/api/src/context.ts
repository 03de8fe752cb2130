import type { AtlasDb } from '@atlas/db';
import type { ApiConfig } from './config';
import type { DocumentStore } from './lib/document-store';
import type { ApiMetrics } from './plugins/metrics';

/** What every route can reach: decorated on the app as `atlas`. */
export interface AppContext {
  readonly config: ApiConfig;
  readonly db: AtlasDb;
  readonly documents: DocumentStore;
  readonly metrics: ApiMetrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    atlas: AppContext;
  }
}
