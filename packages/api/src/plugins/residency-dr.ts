import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AtlasError, classifyPath, homeRegionOfOrg, retryAfterSeconds, type RegionConfig } from '@atlas/core';
import { createDb, type AtlasDb } from '@atlas/db';
import { fetchFailoverViews, type FailoverView } from '@atlas/orchestrator';
import type { ApiConfig } from '../config';
import type { AppContext } from '../context';

/** How often the partner asks the orchestrator where its partnered regions' primaries are. */
export const DR_POLL_MS = 500;
/** A guest app whose database does not answer within this is not started (503, retried on the next request). */
const GUEST_READY_TIMEOUT_MS = 10_000;

export type BuildRegionApp = (config: ApiConfig, db: AtlasDb) => Promise<FastifyInstance>;

interface Guest {
  readonly app: FastifyInstance;
  readonly db: AtlasDb;
}

/**
 * What a DR partner does with a request for one of its partnered region's organizations
 * (rule R2), pure: serve it once the orchestrator reports that region's primary here (its
 * standby lives here and was promoted); answer 503 while that region is failing over; leave
 * it to the ordinary residency guard (421 naming the home) while the home region runs its
 * own primary, or when the orchestrator does not answer.
 */
export function drDecision(here: string, home: RegionConfig, view: FailoverView | undefined, configured: boolean): 'serve' | 'unavailable' | 'not-ours' {
  if (home.drPartner !== here || !view) return 'not-ours';
  if (view.primaryHost === here) return configured ? 'serve' : 'unavailable';
  return view.phase === 'healthy' ? 'not-ours' : 'unavailable';
}

/** The partnered region's API configuration: same keys and topology, its own region, database and document key. */
function guestConfig(config: ApiConfig, region: RegionConfig): ApiConfig {
  const dr = config.drRegions![region.id]!;
  // Not this region's cache stream either: the guest's rows live in the partner's standby.
  const { adminDatabaseUrl: _admin, drRegions: _dr, cacheStreamUrl: _stream, ...rest } = config;
  return {
    ...rest,
    region,
    databaseUrl: dr.databaseUrl,
    documentKey: dr.documentKey,
    // The home region's timers (probes, polls, checkpoints, purges) are its own business.
    probeIntervalMs: 0,
    replicationPollMs: 0,
    security: { ...config.security, auditCheckpointMs: 0, purgeIntervalMs: 0 },
  };
}

/**
 * Disaster-recovery hosting (ARCHITECTURE.md §1, rule R2). A region named as the DR partner
 * of another region of its jurisdiction holds that region's standby. When the orchestrator
 * fails the region over to it, this region serves the failed region's organizations: a
 * second app — the failed region's own API, built by the same buildApp call — on the
 * promoted standby, to which the request is handed before authentication (the guest
 * authenticates it as the home region would). Nothing is copied: the data stays in the
 * home region's database, which now runs here, in the same jurisdiction.
 *
 * Registered before any other onRequest hook; a no-op in a region that is nobody's partner.
 */
export function registerDrHosting(app: FastifyInstance, ctx: AppContext, build: BuildRegionApp): void {
  const here = ctx.config.region.id;
  const partnered = ctx.config.topology.regions.filter((r) => r.drPartner === here);
  if (partnered.length === 0) return;
  const configured = (id: string) => ctx.config.drRegions?.[id] !== undefined;
  let views: ReadonlyMap<string, FailoverView> | undefined;
  const guests = new Map<string, Promise<Guest>>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const closeGuest = async (id: string) => {
    const pending = guests.get(id);
    guests.delete(id);
    const guest = await pending?.catch(() => undefined);
    await guest?.app.close().catch(() => undefined);
    await guest?.db.destroy().catch(() => undefined);
  };

  const poll = async () => {
    views = await fetchFailoverViews(ctx.config.home, DR_POLL_MS * 2);
    // A region whose primary went home again: release its connections here.
    for (const id of guests.keys()) if (views && views.get(id)?.primaryHost !== here) await closeGuest(id);
  };
  const loop = () => {
    timer = setTimeout(() => {
      void poll().finally(() => {
        if (!closed) loop();
      });
    }, DR_POLL_MS);
    timer.unref();
  };
  app.addHook('onReady', async () => {
    await poll();
    loop();
  });
  app.addHook('onClose', async () => {
    closed = true;
    clearTimeout(timer);
    for (const id of [...guests.keys()]) await closeGuest(id);
  });

  const guestFor = (region: RegionConfig): Promise<Guest> => {
    let pending = guests.get(region.id);
    if (!pending) {
      pending = (async () => {
        const config = guestConfig(ctx.config, region);
        const db = createDb(config.databaseUrl, { applicationName: `atlas-api-${region.id}-at-${here}`, max: 10 });
        const guest = await build(config, db);
        let timeout: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            guest.ready(),
            new Promise((_, reject) => {
              timeout = setTimeout(() => reject(new Error(`${region.id}'s database did not answer in ${GUEST_READY_TIMEOUT_MS} ms`)), GUEST_READY_TIMEOUT_MS);
            }),
          ]);
        } catch (err) {
          await guest.close().catch(() => undefined);
          await db.destroy().catch(() => undefined);
          throw err;
        } finally {
          clearTimeout(timeout);
        }
        app.log.info({ hosted: region.id }, `serving ${region.id}'s organizations as its disaster-recovery partner`);
        return { app: guest, db };
      })();
      guests.set(region.id, pending);
      pending.catch(() => guests.delete(region.id));
    }
    return pending;
  };

  const unavailable = (home: RegionConfig, why: string) =>
    new AtlasError(
      'ATLAS_ERR_REGION_UNAVAILABLE',
      `${home.id} is unavailable (${why}); its organizations' data lives only in ${home.jurisdiction} and is never served from another jurisdiction. Retry later.`,
      { 'retry-after': String(retryAfterSeconds(ctx.config.topology.health)) },
    );

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const { dataClass, orgId } = classifyPath(request.url);
    if (dataClass !== 'regional' || orgId === undefined) return;
    const home = homeRegionOfOrg(ctx.config.topology, orgId);
    if (!home || home.id === here) return;
    const view = views?.get(home.id);
    const decision = drDecision(here, home, view, configured(home.id));
    if (decision === 'not-ours') return;
    if (decision === 'unavailable') {
      throw unavailable(home, view?.primaryHost === here ? `${here} holds its promoted standby but is not configured to serve it` : `failing over to ${here}: ${view?.phase ?? 'unknown'}`);
    }
    let guest: Guest;
    try {
      guest = await guestFor(home);
    } catch (err) {
      request.log.warn({ err, hosted: home.id }, 'DR hosting could not start');
      throw unavailable(home, `its promoted database in ${here} does not answer yet`);
    }
    reply.hijack();
    reply.raw.setHeader('atlas-dr-host', here);
    guest.app.routing(request.raw, reply.raw);
  });
}
