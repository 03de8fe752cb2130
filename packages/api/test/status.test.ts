import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type AtlasDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { adminQuery, apiConfig, cluster, REGION_IDS, type RegionId } from '../../../test/support/regions';

interface Entry {
  region: string;
  reachable: boolean;
  health: string;
  replication: { links: number } | null;
  latency: Array<{ to: string; samples: number; p50Ms: number }> | null;
  failover: { phase: string; zeroLoss: string; zeroLossSuspended: boolean; source: string; message: string } | null;
  hosting: string[];
  notes: string[];
}
interface Body {
  servedBy: string;
  orchestrator: { reachable: boolean };
  regions: Entry[];
}

/**
 * GET /api/status with three regional APIs listening on loopback and calling each other over
 * real HTTP. No orchestrator runs here (ATLAS_ORCHESTRATOR_URL names a closed port): the
 * failover state then comes from failover_event rows.
 */
describe('GET /api/status', () => {
  const apps = new Map<RegionId, { app: FastifyInstance; db: AtlasDb; url: string }>();
  let hung: Server;
  let refusing: Server;
  const sockets: Socket[] = [];
  const failoverId = `status-test-${randomUUID()}`;

  // Every app listens on a port the system gives it (never a port picked earlier and released,
  // which another suite running in parallel may bind first); the apps read their peers'
  // addresses from this shared object at request time, so it is filled in once all listen.
  const peers: Record<string, string> = {};

  async function start(region: RegionId, admin: boolean): Promise<void> {
    const base = apiConfig(region);
    const config = { ...base, peerUrls: peers, ...(admin ? { adminDatabaseUrl: cluster().databases[region]!.adminUrl } : {}) };
    const db = createDb(config.databaseUrl, { max: 3 });
    const app = await buildApp(config, db, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    apps.set(region, { app, db, url });
    peers[region] = url;
  }
  async function stop(region: RegionId): Promise<void> {
    const r = apps.get(region);
    apps.delete(region);
    await r?.app.close();
    await r?.db.destroy();
  }
  const get = async (region: RegionId, query = ''): Promise<{ status: number; body: Body }> => {
    const res = await fetch(`${apps.get(region)!.url}/api/status${query}`);
    return { status: res.status, body: (await res.json()) as Body };
  };
  const entry = (body: Body, region: string) => body.regions.find((r) => r.region === region)!;

  beforeAll(async () => {
    // A region whose process accepts connections and never answers (frozen), and one whose
    // address refuses every connection (stopped). Both held by this suite.
    hung = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    refusing = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    // No orchestrator: its address is the refusing server.
    process.env.ATLAS_ORCHESTRATOR_URL = `http://127.0.0.1:${(refusing.address() as { port: number }).port}`;
    for (const r of REGION_IDS) await start(r, r !== 'ap-southeast-1');
    await adminQuery(
      'eu-west-1',
      `INSERT INTO failover_event (failover_id, region, step, status, detail) VALUES ($1, 'eu-west-1', 'suspend-sync', 'done', '{"zeroLoss":"suspended"}')`,
      [failoverId],
    );
  });
  afterAll(async () => {
    delete process.env.ATLAS_ORCHESTRATOR_URL;
    for (const r of [...apps.keys()]) await stop(r);
    for (const s of sockets) s.destroy();
    hung?.close();
    refusing?.close();
    await adminQuery('eu-west-1', 'DELETE FROM failover_event WHERE failover_id = $1', [failoverId]);
  });

  it('lists every region: health, replication, measured latency, and the failover state from failover_event', async () => {
    for (const { app } of apps.values()) await app.probeLatencyOnce();
    const { status, body } = await get('us-east-1');
    expect(status).toBe(200);
    expect(body.servedBy).toBe('us-east-1');
    expect(body.orchestrator.reachable).toBe(false);
    expect(body.regions.map((r) => r.region)).toEqual([...REGION_IDS]);
    for (const r of body.regions) {
      expect(r.reachable, r.region).toBe(true);
      expect(r.health, r.region).toBe('up');
      const others = REGION_IDS.filter((id) => id !== r.region);
      expect(r.latency!.map((l) => l.to).sort(), r.region).toEqual([...others].sort());
      for (const l of r.latency!) expect(l.p50Ms).toBeGreaterThan(0);
    }
    // Replication status needs the region's superuser URL: ap-southeast-1 has none and says so.
    expect(entry(body, 'eu-west-1').replication).not.toBeNull();
    expect(entry(body, 'ap-southeast-1').replication).toBeNull();
    expect(entry(body, 'ap-southeast-1').notes.join(' ')).toContain('ATLAS_ADMIN_DATABASE_URL');
    // eu-west-1 recorded that its synchronous standby was dropped: the zero-loss promise is suspended.
    expect(entry(body, 'eu-west-1').failover).toMatchObject({ source: 'failover_event', zeroLoss: 'suspended', zeroLossSuspended: true });
    expect(entry(body, 'eu-west-1').failover!.message).toContain(failoverId);
  });

  it('scope=local answers for the region itself only', async () => {
    const { status, body } = await get('eu-west-1', '?scope=local');
    expect(status).toBe(200);
    expect(body.regions.map((r) => r.region)).toEqual(['eu-west-1']);
  });

  it('refuses an unknown scope with a catalogued 400', async () => {
    const res = await fetch(`${apps.get('eu-west-1')!.url}/api/status?scope=everything`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ATLAS_ERR_VALIDATION');
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${apps.get('eu-west-1')!.url}/openapi.json`)).json()) as { paths: Record<string, { get?: { tags?: string[] } }> };
    expect(doc.paths['/api/status']?.get?.tags).toEqual(['operations']);
  });

  it('degrades, never a 500: a stopped peer shows down, a frozen peer unreachable within the bound', async () => {
    await stop('ap-southeast-1');
    peers['ap-southeast-1'] = `http://127.0.0.1:${(refusing.address() as { port: number }).port}`;
    const stopped = await get('eu-west-1');
    expect(stopped.status).toBe(200);
    expect(entry(stopped.body, 'ap-southeast-1')).toMatchObject({ reachable: false, health: 'down', latency: null, replication: null });
    expect(entry(stopped.body, 'us-east-1')).toMatchObject({ reachable: true, health: 'up' });

    // us-east-1's address now leads to a process that never answers.
    await stop('us-east-1');
    peers['us-east-1'] = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    const frozen = await get('eu-west-1');
    expect(frozen.status).toBe(200);
    expect(entry(frozen.body, 'us-east-1')).toMatchObject({ reachable: false, health: 'down' });
    expect(entry(frozen.body, 'eu-west-1')).toMatchObject({ reachable: true, health: 'up' });
    expect(entry(frozen.body, 'us-east-1').notes.join(' ')).toContain('did not answer its status within');
  });
});
