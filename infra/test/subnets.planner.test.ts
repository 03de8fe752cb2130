import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockSize, contains, overlaps, parseCidr } from '../planners/cidr';
import { planRegionCidrs, planSubnets } from '../planners/subnets.planner';

describe('planSubnets', () => {
  it.each([
    ['10.0.0.0/16', 3, { publicPrefix: 22, privatePrefix: 19 }, ['10.0.96.0/22', '10.0.0.0/19', '10.0.100.0/22', '10.0.32.0/19', '10.0.104.0/22', '10.0.64.0/19']],
    ['10.1.0.0/16', 2, { publicPrefix: 24, privatePrefix: 20 }, ['10.1.32.0/24', '10.1.0.0/20', '10.1.33.0/24', '10.1.16.0/20']],
    ['172.16.0.0/20', 2, { publicPrefix: 24, privatePrefix: 22 }, ['172.16.8.0/24', '172.16.0.0/22', '172.16.9.0/24', '172.16.4.0/22']],
  ])('%s with %i AZs', (vpc, azs, layout, expected) => {
    expect(planSubnets(vpc, azs, layout).map((s) => s.cidr)).toEqual(expected);
  });

  it('gives every AZ one public and one private subnet', () => {
    const plan = planSubnets('10.0.0.0/16', 3);
    for (const az of [0, 1, 2]) {
      expect(plan.filter((s) => s.az === az).map((s) => s.tier).sort()).toEqual(['private', 'public']);
    }
  });

  it.each([
    ['10.0.0.0/16', 1, /at least 2/],
    ['10.0.0.0/18', 6, /needs 55296 addresses/],
    ['10.0.0.1/16', 3, /host bits/],
    ['10.0.0.0/33', 3, /not an IPv4 CIDR/],
  ])('refuses %s with %i AZs', (vpc, azs, message) => {
    expect(() => planSubnets(vpc, azs)).toThrow(message);
  });

  it('property: subnets stay inside the VPC, never overlap, and fit exactly when the sizes add up', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 16 - 1 }),
        fc.integer({ min: 16, max: 24 }),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 16, max: 28 }),
        fc.integer({ min: 16, max: 28 }),
        (high, vpcPrefix, azs, publicPrefix, privatePrefix) => {
          const base = (high * 2 ** 16) - ((high * 2 ** 16) % blockSize(vpcPrefix));
          const vpcText = `${Math.floor(base / 2 ** 24)}.${Math.floor(base / 2 ** 16) % 256}.${Math.floor(base / 256) % 256}.0/${vpcPrefix}`;
          const vpc = parseCidr(vpcText);
          const layout = { publicPrefix, privatePrefix };
          const fits = publicPrefix >= vpcPrefix && privatePrefix >= vpcPrefix && azs * (blockSize(publicPrefix) + blockSize(privatePrefix)) <= blockSize(vpcPrefix);
          if (!fits) {
            expect(() => planSubnets(vpcText, azs, layout)).toThrow();
            return;
          }
          const subnets = planSubnets(vpcText, azs, layout).map((s) => parseCidr(s.cidr));
          expect(subnets).toHaveLength(azs * 2);
          subnets.forEach((a, i) => {
            expect(contains(vpc, a)).toBe(true);
            subnets.slice(i + 1).forEach((b) => expect(overlaps(a, b)).toBe(false));
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('planRegionCidrs', () => {
  it('assigns /16 blocks in topology order', () => {
    expect(planRegionCidrs('10.0.0.0/8', ['eu-west-1', 'us-east-1', 'ap-southeast-1'])).toEqual({ 'eu-west-1': '10.0.0.0/16', 'us-east-1': '10.1.0.0/16', 'ap-southeast-1': '10.2.0.0/16' });
  });

  it('appending a region never renumbers the existing ones', () => {
    const before = planRegionCidrs('10.0.0.0/8', ['eu-west-1', 'us-east-1']);
    const after = planRegionCidrs('10.0.0.0/8', ['eu-west-1', 'us-east-1', 'eu-central-1']);
    expect(after).toMatchObject(before);
  });

  it('skips blocks pinned to other regions', () => {
    expect(planRegionCidrs('10.0.0.0/8', ['a-x-1', 'b-x-1'], { 'b-x-1': '10.0.0.0/16' })).toEqual({ 'a-x-1': '10.1.0.0/16', 'b-x-1': '10.0.0.0/16' });
  });

  it.each([
    [{ 'a-x-1': '10.0.0.0/16', 'b-x-1': '10.0.128.0/17' }, /overlap/],
    [{ 'z-x-1': '10.9.0.0/16' }, /unknown region/],
  ])('refuses pinned %j', (pinned, message) => {
    expect(() => planRegionCidrs('10.0.0.0/8', ['a-x-1', 'b-x-1'], pinned)).toThrow(message);
  });

  it('refuses when the supernet is full', () => {
    expect(() => planRegionCidrs('10.0.0.0/15', ['a-x-1', 'b-x-1', 'c-x-1'])).toThrow(/no free/);
  });

  it('property: region blocks never overlap', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z]{2}-[a-z]{3,6}-[1-9]$/), { minLength: 1, maxLength: 30 }), (ids) => {
        const blocks = Object.values(planRegionCidrs('10.0.0.0/8', ids)).map(parseCidr);
        blocks.forEach((a, i) => blocks.slice(i + 1).forEach((b) => expect(overlaps(a, b)).toBe(false)));
      }),
    );
  });
});
