import { randomBytes } from 'node:crypto';
import { regionByCode, type RegionConfig, type Topology } from './topology';

// Crockford base32, lowercase: no i, l, o, u, so ids read back without ambiguity.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function randomToken(length = 20): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

/**
 * Organization ids carry their home region's code (`org_euw1_…`), so the edge and every
 * region can route a request without a look-up, even before the row has replicated.
 */
export function newOrgId(home: RegionConfig): string {
  return `org_${home.code}_${randomToken()}`;
}

const ORG_ID = /^org_([a-z0-9]{2,6})_([0-9a-hjkmnp-tv-z]{20})$/;

export function isOrgId(value: string): boolean {
  return ORG_ID.test(value);
}

/** The home region named by an organization id, or undefined for a malformed or unknown one. */
export function homeRegionOfOrg(topology: Topology, orgId: string): RegionConfig | undefined {
  const match = ORG_ID.exec(orgId);
  return match ? regionByCode(topology, match[1]!) : undefined;
}
