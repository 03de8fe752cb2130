import { blockSize, type Cidr, CidrError, formatCidr, overlaps, contains, parseCidr } from './cidr';

export type SubnetTier = 'public' | 'private';

export interface PlannedSubnet {
  readonly tier: SubnetTier;
  /** Index of the availability zone, 0-based, in the order AWS lists them. */
  readonly az: number;
  readonly cidr: string;
}

export interface SubnetLayout {
  /** Public subnets hold only the ALB and NAT gateways, so they stay small. */
  readonly publicPrefix: number;
  /** Private subnets hold Fargate tasks (one ENI each), RDS and Redis. */
  readonly privatePrefix: number;
}

export const DEFAULT_SUBNET_LAYOUT: SubnetLayout = { publicPrefix: 22, privatePrefix: 19 };

/**
 * Carves one public and one private subnet per availability zone out of the VPC block.
 * Blocks are placed largest first, each aligned to its own size; with sizes that are powers
 * of two this leaves no unusable gap, so the plan fits exactly when the sizes add up.
 */
export function planSubnets(vpcCidr: string, azCount: number, layout: SubnetLayout = DEFAULT_SUBNET_LAYOUT): PlannedSubnet[] {
  const vpc = parseCidr(vpcCidr);
  if (!Number.isInteger(azCount) || azCount < 2) throw new CidrError(`Multi-AZ needs at least 2 availability zones, got ${azCount}`);
  for (const prefix of [layout.publicPrefix, layout.privatePrefix]) {
    // AWS allows subnets from /16 to /28.
    if (prefix < Math.max(16, vpc.prefix) || prefix > 28) throw new CidrError(`subnet prefix /${prefix} cannot be carved from ${vpcCidr} (AWS allows /16../28)`);
  }
  const requests: Array<{ tier: SubnetTier; az: number; prefix: number }> = [];
  for (let az = 0; az < azCount; az++) {
    requests.push({ tier: 'public', az, prefix: layout.publicPrefix }, { tier: 'private', az, prefix: layout.privatePrefix });
  }
  const needed = requests.reduce((sum, r) => sum + blockSize(r.prefix), 0);
  if (needed > blockSize(vpc.prefix)) {
    throw new CidrError(`${azCount} AZs × (/${layout.publicPrefix} + /${layout.privatePrefix}) needs ${needed} addresses; ${vpcCidr} has ${blockSize(vpc.prefix)}`);
  }
  const order = [...requests].sort((a, b) => a.prefix - b.prefix);
  let cursor = vpc.base;
  const placed = new Map<(typeof requests)[number], Cidr>();
  for (const r of order) {
    placed.set(r, { base: cursor, prefix: r.prefix });
    cursor += blockSize(r.prefix);
  }
  return requests.map((r) => ({ tier: r.tier, az: r.az, cidr: formatCidr(placed.get(r)!) }));
}

/**
 * One VPC block per region. Regions take blocks in topology order unless pinned, so
 * appending a region never renumbers an existing VPC; pin a CIDR to insert elsewhere.
 * Blocks must not overlap because the regions' VPCs are peered for replication.
 */
export function planRegionCidrs(
  supernet: string,
  regionIds: readonly string[],
  pinned: Readonly<Record<string, string>> = {},
  prefix = 16,
): Record<string, string> {
  const outer = parseCidr(supernet);
  if (prefix < outer.prefix) throw new CidrError(`/${prefix} VPCs cannot come from ${supernet}`);
  for (const id of Object.keys(pinned)) {
    if (!regionIds.includes(id)) throw new CidrError(`pinned VPC CIDR for unknown region ${id}`);
  }
  const taken: Cidr[] = Object.values(pinned).map(parseCidr);
  taken.forEach((a, i) => {
    taken.slice(i + 1).forEach((b) => {
      if (overlaps(a, b)) throw new CidrError(`pinned VPC CIDRs ${formatCidr(a)} and ${formatCidr(b)} overlap`);
    });
  });
  const result: Record<string, string> = {};
  let next = outer.base;
  for (const id of regionIds) {
    const pin = pinned[id];
    if (pin !== undefined) {
      result[id] = pin;
      continue;
    }
    let candidate: Cidr = { base: next, prefix };
    while (taken.some((t) => overlaps(t, candidate))) candidate = { base: candidate.base + blockSize(prefix), prefix };
    if (!contains(outer, candidate)) throw new CidrError(`${supernet} has no free /${prefix} left for ${id}`);
    taken.push(candidate);
    result[id] = formatCidr(candidate);
    next = candidate.base + blockSize(prefix);
  }
  return result;
}
