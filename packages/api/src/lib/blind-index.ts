import { createHmac } from 'node:crypto';

const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz';

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Keyed hash of an e-mail: global rows can route a login without holding the address (R3). */
export function emailBlindIndex(key: string, email: string): string {
  return createHmac('sha256', key).update(normalizeEmail(email)).digest('hex');
}

/**
 * A user's id is derived from (organization, e-mail) under the same key: the business key
 * maps to one id in every region, so two regions creating the same user merge instead of
 * colliding on a second unique index.
 */
export function userIdFor(key: string, orgId: string, email: string): string {
  const digest = createHmac('sha256', key).update(`user:${orgId}:${normalizeEmail(email)}`).digest();
  let id = '';
  for (let i = 0; i < 26; i++) id += BASE32[digest[i]! & 31];
  return `usr_${id}`;
}
