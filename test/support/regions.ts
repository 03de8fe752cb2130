import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { inject } from 'vitest';
import { parseTopology, requireRegion } from '@atlas/core';
import { createDb, type AtlasDb } from '@atlas/db';
import { buildApp, type ApiConfig } from '@atlas/api';

export const REGION_IDS = ['eu-west-1', 'us-east-1', 'ap-southeast-1'] as const;
export type RegionId = (typeof REGION_IDS)[number];

export function cluster() {
  return inject('cluster');
}

export function apiConfig(regionId: string): ApiConfig {
  const info = cluster();
  const topology = parseTopology(info.topology);
  const region = requireRegion(topology, regionId);
  return {
    topology,
    region,
    databaseUrl: info.databases[regionId]!.appUrl,
    home: info.home,
    host: '127.0.0.1',
    port: region.apiPort,
    documentKey: Buffer.from(info.secrets.documentKeys[regionId]!, 'base64'),
    blindIndexKey: info.secrets.blindIndexKey,
    logLevel: 'silent',
    bodyLimit: 256 * 1024,
    documentLimit: 10 * 1024 * 1024,
    probeIntervalMs: 0,
    latencyAlertMs: 200,
    peerUrls: {},
  };
}

export interface RegionApp {
  readonly region: RegionId;
  readonly app: FastifyInstance;
  readonly db: AtlasDb;
  close(): Promise<void>;
}

/** The real regional API of one region, on its real database, driven through inject(). */
export async function startRegionApp(region: RegionId): Promise<RegionApp> {
  const config = apiConfig(region);
  const db = createDb(config.databaseUrl, { max: 5 });
  const app = await buildApp(config, db, { logger: false });
  await app.ready();
  return {
    region,
    app,
    db,
    close: async () => {
      await app.close();
      await db.destroy();
    },
  };
}

/** A superuser query straight to a region's database: what is really stored there. */
export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(region: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster().databases[region]!.adminUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function appQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(region: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster().databases[region]!.appUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}
