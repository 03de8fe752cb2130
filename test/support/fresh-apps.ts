import type { FastifyInstance } from 'fastify';
import { requireRegion } from '@atlas/core';
import { createDb, type AtlasDb } from '@atlas/db';
import { buildApp, type ApiConfig } from '@atlas/api';
import type { FreshRegions } from './fresh-regions';
import { apiConfig } from './regions';

/** The API configuration of one region of a fresh cluster: its own databases, home and ports. */
export function freshApiConfig(fresh: FreshRegions, regionId: string): ApiConfig {
  const region = requireRegion(fresh.topology, regionId);
  const database = fresh.databases.find((d) => d.region.id === regionId)!;
  return { ...apiConfig(regionId), topology: fresh.topology, region, home: fresh.home, databaseUrl: database.appUrl, cacheStreamUrl: database.cacheStreamUrl, port: region.apiPort };
}

/** APIs listening on their regions' ports, one per region, stopped one by one or all together. */
export class ListeningApps {
  private readonly running = new Map<string, { app: FastifyInstance; db: AtlasDb }>();

  /** `prepare` runs after the app is built and before it listens (a test's planted fault). */
  async start(config: ApiConfig, logger: boolean | Record<string, unknown> = false, prepare?: (app: FastifyInstance) => void): Promise<void> {
    const db = createDb(config.databaseUrl, { max: 3 });
    const app = await buildApp(config, db, { logger });
    prepare?.(app);
    await app.listen({ host: '127.0.0.1', port: config.region.apiPort });
    this.running.set(config.region.id, { app, db });
  }

  async stop(regionId: string): Promise<void> {
    const r = this.running.get(regionId);
    this.running.delete(regionId);
    await r?.app.close();
    await r?.db.destroy();
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id);
  }
}
