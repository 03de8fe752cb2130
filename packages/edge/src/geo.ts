import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Reader, type Response } from 'maxmind';

/** The IP→country step of routing: an ISO country code for an address, or null. */
export type CountryLookup = (ip: string) => string | null;

/** DB-IP Lite records are `{ country_code }`; GeoLite2-shaped ones carry country.iso_code. */
interface CountryRecord {
  readonly country_code?: string;
  readonly country?: { readonly iso_code?: string };
}

/**
 * Opens a MaxMind-format country database (the bundled DB-IP Lite one has records of the form
 * `{ country_code }`). Read once, synchronously, at start: 8 MB, looked up in memory after.
 */
export function openCountryLookup(path: string): CountryLookup {
  let reader: Reader<Response>;
  try {
    reader = new Reader(readFileSync(path));
  } catch (err) {
    throw new Error(`cannot open the IP→country database ${path}: ${(err as Error).message}`);
  }
  return (ip) => {
    // IPv4 clients of a dual-stack socket arrive as ::ffff:a.b.c.d, which the database files
    // under IPv4 only.
    const address = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
    if (isIP(address) === 0) return null;
    const record = reader.get(address) as CountryRecord | null;
    return record?.country_code ?? record?.country?.iso_code ?? null;
  };
}

export const noCountryLookup: CountryLookup = () => null;
