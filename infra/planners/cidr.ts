/** IPv4 CIDR arithmetic on plain numbers; addresses are unsigned 32-bit integers. */

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  readonly base: number;
  readonly prefix: number;
}

export class CidrError extends Error {
  override readonly name = 'CidrError';
}

export function parseCidr(text: string): Cidr {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!match) throw new CidrError(`not an IPv4 CIDR: ${text}`);
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) throw new CidrError(`not an IPv4 CIDR: ${text}`);
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  if (base % blockSize(prefix) !== 0) throw new CidrError(`${text} has host bits set; did you mean ${formatCidr({ base: base - (base % blockSize(prefix)), prefix })}?`);
  return { base, prefix };
}

export function formatCidr(cidr: Cidr): string {
  const b = cidr.base;
  return `${Math.floor(b / 2 ** 24) % 256}.${Math.floor(b / 2 ** 16) % 256}.${Math.floor(b / 2 ** 8) % 256}.${b % 256}/${cidr.prefix}`;
}

/** Number of addresses in a block of the given prefix length. */
export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

export function cidrEnd(cidr: Cidr): number {
  return cidr.base + blockSize(cidr.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < cidrEnd(b) && b.base < cidrEnd(a);
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.base >= outer.base && cidrEnd(inner) <= cidrEnd(outer);
}
