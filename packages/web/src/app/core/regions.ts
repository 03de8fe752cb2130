/**
 * Pure region logic of the web client (no Angular, no I/O): what a request is about, which
 * region owns an organization, and which region to use given every region's health.
 */

export interface RegionInfo {
  readonly region: string;
  readonly code: string;
  readonly displayName: string;
  readonly jurisdiction: string;
  readonly drPartner: string | null;
  readonly rttMs: Readonly<Record<string, number>>;
}

export type HealthState = 'unknown' | 'up' | 'down';

export interface RegionHealth {
  readonly state: HealthState;
  /** EWMA of measured round trips through the edge, ms; null until one succeeded. */
  readonly latencyMs: number | null;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  readonly lastCheckedAt: number | null;
  readonly lastError: string | null;
}

export interface HealthThresholds {
  /** Failed checks in a row before a region is taken out. */
  readonly downAfter: number;
  /** Good checks in a row before a down region is put back. */
  readonly upAfter: number;
  /** Weight of a new latency sample in the EWMA, (0, 1]. */
  readonly ewmaAlpha: number;
}

export const UNKNOWN_HEALTH: RegionHealth = Object.freeze({
  state: 'unknown',
  latencyMs: null,
  consecutiveFailures: 0,
  consecutiveSuccesses: 0,
  lastCheckedAt: null,
  lastError: null,
});

export type CheckOutcome = { readonly ok: true; readonly rttMs: number } | { readonly ok: false; readonly error: string };

/**
 * One check applied with hysteresis: an unknown region takes the first answer; a known one
 * changes state only after `downAfter` failures or `upAfter` successes in a row.
 */
export function applyCheck(health: RegionHealth, outcome: CheckOutcome, t: HealthThresholds, now: number): RegionHealth {
  if (outcome.ok) {
    const successes = health.consecutiveSuccesses + 1;
    const latencyMs = health.latencyMs === null ? outcome.rttMs : t.ewmaAlpha * outcome.rttMs + (1 - t.ewmaAlpha) * health.latencyMs;
    const state = health.state === 'down' && successes < t.upAfter ? 'down' : 'up';
    return { state, latencyMs, consecutiveFailures: 0, consecutiveSuccesses: successes, lastCheckedAt: now, lastError: null };
  }
  const failures = health.consecutiveFailures + 1;
  const state = health.state === 'unknown' || failures >= t.downAfter ? 'down' : health.state;
  return { ...health, state, consecutiveFailures: failures, consecutiveSuccesses: 0, lastCheckedAt: now, lastError: outcome.error };
}

const ORG_SCOPED = /^\/api\/orgs\/([^/?#]+)(\/[^?#]*)?/;

export type RequestScope = { readonly kind: 'global' } | { readonly kind: 'regional'; readonly orgId: string };

/** Mirrors the edge's classification: anything below /api/orgs/:orgId/ is regional data. */
export function scopeOf(url: string): RequestScope {
  const path = url.replace(/^https?:\/\/[^/]+/, '');
  const m = ORG_SCOPED.exec(path);
  if (!m || m[2] === undefined) return { kind: 'global' };
  let orgId = m[1]!;
  try {
    orgId = decodeURIComponent(orgId);
  } catch {
    /* kept as sent: the edge decodes the same way */
  }
  return { kind: 'regional', orgId };
}

/** The home region of an organization, from the region code inside its id (org_<code>_…). */
export function homeOfOrg(regions: readonly RegionInfo[], orgId: string): RegionInfo | undefined {
  const code = /^org_([a-z0-9]{2,6})_/.exec(orgId)?.[1];
  return code === undefined ? undefined : regions.find((r) => r.code === code);
}

/** Regions that may serve an organization's regional data: its home and a same-jurisdiction DR partner. */
export function regionsAllowedFor(regions: readonly RegionInfo[], home: RegionInfo): RegionInfo[] {
  const partner = home.drPartner === null ? undefined : regions.find((r) => r.region === home.drPartner);
  return [home, ...(partner && partner.jurisdiction === home.jurisdiction ? [partner] : [])];
}

/** Usable regions, fastest first (unmeasured after measured, then topology order). */
export function rankRegions(regions: readonly RegionInfo[], health: Readonly<Record<string, RegionHealth>>): RegionInfo[] {
  const order = new Map(regions.map((r, i) => [r.region, i]));
  return regions
    .filter((r) => health[r.region]?.state === 'up')
    .sort((a, b) => {
      const la = health[a.region]?.latencyMs ?? Number.POSITIVE_INFINITY;
      const lb = health[b.region]?.latencyMs ?? Number.POSITIVE_INFINITY;
      return la !== lb ? la - lb : order.get(a.region)! - order.get(b.region)!;
    });
}

export interface SelectionInput {
  readonly regions: readonly RegionInfo[];
  readonly health: Readonly<Record<string, RegionHealth>>;
  /** The region in use now, if any. */
  readonly current: string | null;
  /** The user picked `current` by hand: keep it while it is up. */
  readonly manual: boolean;
  /** The region the edge routed us to by geography, preferred while it is up. */
  readonly detected: string | null;
  /** A better region must be faster by this fraction to replace an up one (stops flapping). */
  readonly switchMargin: number;
}

export type Selection =
  | { readonly region: string; readonly reason: 'manual' | 'detected' | 'latency' | 'kept' | 'failover' }
  | { readonly region: null; readonly reason: 'none-healthy' };

/**
 * Which region to use. A manual choice stands while its region is up; an up current region
 * is replaced only by the detected one or by one faster by `switchMargin`; a down current
 * region fails over to the fastest up region.
 */
export function selectRegion(input: SelectionInput): Selection {
  const ranked = rankRegions(input.regions, input.health);
  const up = (id: string | null) => id !== null && input.health[id]?.state === 'up';
  if (input.current !== null && input.manual && up(input.current)) return { region: input.current, reason: 'manual' };
  if (up(input.detected) && (input.current === null || input.current === input.detected || !input.manual)) {
    return { region: input.detected!, reason: 'detected' };
  }
  const best = ranked[0];
  if (!best) return { region: null, reason: 'none-healthy' };
  if (input.current !== null && up(input.current)) {
    const now = input.health[input.current]!.latencyMs ?? Number.POSITIVE_INFINITY;
    const better =
      best.region !== input.current && (input.health[best.region]!.latencyMs ?? Number.POSITIVE_INFINITY) < now * (1 - input.switchMargin);
    return better ? { region: best.region, reason: 'latency' } : { region: input.current, reason: 'kept' };
  }
  return { region: best.region, reason: input.current === null ? 'latency' : 'failover' };
}
