import { homeRegionOfOrg } from '../ids';
import { findRegion, type RegionConfig, type Topology } from '../topology';
import type { DataClass } from './classify';
import { retryAfterSeconds, type HealthState } from './health';

/**
 * The edge's routing decision (ARCHITECTURE.md §4), pure: the topology, each region's health
 * and latency, and what the request is about go in; a region and the reason come out.
 *
 * Order: the organization's home region (from the id in the path, else a verified token
 * claim), else the viewer's country, else the lowest latency. A down region's global-data
 * traffic goes to the next healthy region by latency; its regional data only to a DR
 * partner of the same jurisdiction, otherwise it is unavailable (rule R2).
 */
export interface RoutingView {
  readonly topology: Topology;
  /** Health per region id; a region missing here counts as down (never route blind). */
  readonly health: Readonly<Record<string, HealthState>>;
  /** EWMA of probe round trips per region id, ms; missing when not measured yet. */
  readonly latencyMs: Readonly<Record<string, number | undefined>>;
}

export interface RouteRequest {
  readonly dataClass: DataClass;
  /** Organization id from the path. */
  readonly orgId?: string;
  /** Home region id from a verified token claim (tokens come with authentication). */
  readonly homeRegionHint?: string;
  /**
   * The region the client chose (the web app's region selector, header Atlas-Region-Hint).
   * It decides only where no organization's home does, so it can move global traffic only.
   */
  readonly clientRegion?: string;
  /** ISO 3166-1 alpha-2 country of the viewer (CDN header or IP look-up). */
  readonly country?: string;
}

export type RouteReason =
  'org-home' | 'client-choice' | 'token-home' | `country:${string}` | 'latency' | 'replay-421' | 'failover:global' | 'failover:dr-partner';

export type UnavailableReason = 'unavailable:regional' | 'unavailable:no-healthy-region';

export type RouteDecision =
  | {
      readonly kind: 'route';
      readonly region: string;
      readonly reason: RouteReason;
      /** The region the request would have gone to with every region healthy. */
      readonly preferred: string;
    }
  | {
      readonly kind: 'unavailable';
      readonly reason: UnavailableReason;
      readonly preferred: string | null;
      readonly code: 'ATLAS_ERR_REGION_UNAVAILABLE';
      readonly message: string;
      readonly retryAfterS: number;
    };

type Preference = { readonly region: RegionConfig; readonly reason: RouteReason; readonly homeBound: boolean };

const isUp = (view: RoutingView, id: string): boolean => view.health[id] === 'up';

/** Lowest measured latency first; unmeasured regions after measured ones; then topology order. */
function byLatency(view: RoutingView): (a: RegionConfig, b: RegionConfig) => number {
  const order = new Map(view.topology.regions.map((r, i) => [r.id, i]));
  return (a, b) => {
    const la = view.latencyMs[a.id] ?? Number.POSITIVE_INFINITY;
    const lb = view.latencyMs[b.id] ?? Number.POSITIVE_INFINITY;
    return la !== lb ? la - lb : order.get(a.id)! - order.get(b.id)!;
  };
}

function preference(view: RoutingView, request: RouteRequest): Preference | undefined {
  const { topology } = view;
  const fromId = request.orgId === undefined ? undefined : homeRegionOfOrg(topology, request.orgId);
  if (fromId) return { region: fromId, reason: 'org-home', homeBound: true };
  const chosen = request.clientRegion === undefined ? undefined : findRegion(topology, request.clientRegion);
  if (chosen) return { region: chosen, reason: 'client-choice', homeBound: false };
  const fromToken = request.homeRegionHint === undefined ? undefined : findRegion(topology, request.homeRegionHint);
  if (fromToken) return { region: fromToken, reason: 'token-home', homeBound: true };
  const byCountry = request.country === undefined ? undefined : topology.countryRegions[request.country];
  const countryRegion = byCountry === undefined ? undefined : findRegion(topology, byCountry);
  if (countryRegion) return { region: countryRegion, reason: `country:${request.country}`, homeBound: false };
  const nearest = topology.regions.filter((r) => isUp(view, r.id)).sort(byLatency(view))[0];
  return nearest ? { region: nearest, reason: 'latency', homeBound: false } : undefined;
}

function unavailable(view: RoutingView, reason: UnavailableReason, preferred: string | null, message: string): RouteDecision {
  return {
    kind: 'unavailable',
    reason,
    preferred,
    code: 'ATLAS_ERR_REGION_UNAVAILABLE',
    message,
    retryAfterS: retryAfterSeconds(view.topology.health),
  };
}

/**
 * Where a request goes when its preferred region is down. Regional data of a known home
 * stays in the home's jurisdiction or nowhere; anything else goes to the healthy region
 * nearest the failed one (the viewer is near it: that is why it was preferred), with the
 * edge's own measurement breaking ties.
 */
function failover(view: RoutingView, preferred: RegionConfig, regionalOfHome: boolean): RouteDecision {
  if (regionalOfHome) {
    const partner = preferred.drPartner === undefined ? undefined : findRegion(view.topology, preferred.drPartner);
    // Re-checked here although parseTopology refuses a foreign partner: R2 must not rest on
    // the caller having validated the topology.
    if (partner && partner.jurisdiction === preferred.jurisdiction && isUp(view, partner.id)) {
      return { kind: 'route', region: partner.id, reason: 'failover:dr-partner', preferred: preferred.id };
    }
    return unavailable(
      view,
      'unavailable:regional',
      preferred.id,
      `${preferred.id} is unavailable and this organization's data lives only in ${preferred.jurisdiction} (${preferred.id}${partner ? ` and ${partner.id}` : ''}); it is never served from another jurisdiction. Retry later.`,
    );
  }
  const rtt = view.topology.rttMs[preferred.id] ?? {};
  const latency = byLatency(view);
  const next = view.topology.regions
    .filter((r) => r.id !== preferred.id && isUp(view, r.id))
    .sort((a, b) => (rtt[a.id] ?? Number.POSITIVE_INFINITY) - (rtt[b.id] ?? Number.POSITIVE_INFINITY) || latency(a, b))[0];
  if (next) return { kind: 'route', region: next.id, reason: 'failover:global', preferred: preferred.id };
  return unavailable(view, 'unavailable:no-healthy-region', preferred.id, 'no region is available right now; retry later');
}

export function decideRoute(view: RoutingView, request: RouteRequest): RouteDecision {
  const pref = preference(view, request);
  if (!pref) return unavailable(view, 'unavailable:no-healthy-region', null, 'no region is available right now; retry later');
  if (isUp(view, pref.region.id)) return { kind: 'route', region: pref.region.id, reason: pref.reason, preferred: pref.region.id };
  return failover(view, pref.region, pref.homeBound && request.dataClass === 'regional');
}

/**
 * A region answered 421 naming `named` as the owner of the data (the fly-replay pattern).
 * Returns where to replay, or undefined when the answer must go back to the client as is:
 * the request was replayed once already (at most one replay per hop chain), or the named
 * region is not one this edge knows. The region is the authority on where its data lives,
 * so the named region is taken as the home, with the same R2 failover as any home.
 */
export function decideReplay(view: RoutingView, named: string, alreadyReplayed: boolean): RouteDecision | undefined {
  if (alreadyReplayed) return undefined;
  const home = findRegion(view.topology, named);
  if (!home) return undefined;
  if (isUp(view, home.id)) return { kind: 'route', region: home.id, reason: 'replay-421', preferred: home.id };
  return failover(view, home, true);
}
