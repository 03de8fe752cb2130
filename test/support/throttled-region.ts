import { createDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { RawConnection } from './raw-http';
import { apiConfig, regionApp, type RegionApp } from './regions';

/**
 * A real us-east-1 API listening on a free port with a tiny organization budget (2 requests an
 * hour: nothing refills while a test runs), an address limit out of the way, and connection
 * holds of holdSeconds at most: the set-up of the rate-limit hold tests (API and edge).
 */
export async function startThrottledRegion(holdSeconds: number): Promise<{ region: RegionApp; port: number }> {
  const base = apiConfig('us-east-1');
  const config = {
    ...base,
    security: { ...base.security, rateLimitPerOrg: { capacity: 2, perSeconds: 3600 }, rateLimitPerIp: { capacity: 100_000, perSeconds: 60 }, rateLimitHoldMaxSeconds: holdSeconds },
  };
  const db = createDb(config.databaseUrl, { max: 3 });
  const app = await buildApp(config, db, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { region: regionApp('us-east-1', app, db), port: (app.server.address() as { port: number }).port };
}

/** Raw keep-alive connections a test opens, closed together at its end. */
export class RawConnections {
  private readonly open: RawConnection[] = [];

  async to(port: number): Promise<RawConnection> {
    const c = new RawConnection(port);
    this.open.push(c);
    await c.opened;
    return c;
  }

  closeAll(): void {
    for (const c of this.open.splice(0)) c.close();
  }
}

/** A new us-east-1 organization of the region's app. */
export async function newUsOrg(region: RegionApp, name: string): Promise<string> {
  return (await region.app.inject({ method: 'POST', url: '/api/orgs', payload: { name, homeRegion: 'us-east-1' } })).json().id as string;
}
