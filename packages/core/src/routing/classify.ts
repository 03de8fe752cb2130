/**
 * What a request is about, read from its path alone (no look-up): whether it touches an
 * organization's regional data, and which organization.
 *
 * - `/api/orgs/:orgId/…` is regional data of that organization (rule R1: home region only);
 * - `/api/orgs/:orgId` is the organization row itself, global data;
 * - everything else (`/api/orgs`, `/api/users/:id/preferences`, `/api/referential/…`,
 *   `/api/regions/…`, operations endpoints) is global or region-neutral.
 *
 * Anything below an organization counts as regional, known route or not: when in doubt the
 * stricter rule (R2) applies.
 */
export type DataClass = 'regional' | 'global';

export interface RequestClass {
  readonly dataClass: DataClass;
  readonly orgId?: string;
}

const ORG_SCOPED = /^\/api\/orgs\/([^/]+)(\/.*)?$/;

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function classifyPath(url: string): RequestClass {
  const path = url.split(/[?#]/, 1)[0] ?? '';
  const match = ORG_SCOPED.exec(path);
  if (!match) return { dataClass: 'global' };
  // Decoded as the region's router decodes it, so both see the same organization.
  const orgId = safeDecode(match[1]!);
  return { dataClass: match[2] === undefined ? 'global' : 'regional', orgId };
}

/** CDN headers that carry the viewer's country, in order of trust. */
export const COUNTRY_HEADERS = ['cf-ipcountry', 'cloudfront-viewer-country'] as const;

const ISO_COUNTRY = /^[A-Z]{2}$/;

/**
 * The viewer's country from a CDN header, else from the IP look-up the caller did. Cloudflare
 * sends `XX` (unknown) and `T1` (Tor): neither is a country, so neither decides a route.
 */
export function countryOf(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  ipCountry?: string | null,
): string | undefined {
  for (const name of COUNTRY_HEADERS) {
    const raw = headers[name];
    const value = (typeof raw === 'string' ? raw : raw?.[0])?.trim().toUpperCase();
    if (value && ISO_COUNTRY.test(value) && value !== 'XX') return value;
  }
  const fromIp = ipCountry?.trim().toUpperCase();
  return fromIp && ISO_COUNTRY.test(fromIp) && fromIp !== 'XX' ? fromIp : undefined;
}
