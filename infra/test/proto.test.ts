import { describe, it, expect, beforeAll } from 'vitest';
import { installMocks, type MockHarness } from './support/pulumi-mocks';
let h: MockHarness;
let aws: typeof import('@pulumi/aws');
let pulumi: typeof import('@pulumi/pulumi');
beforeAll(async () => { h = await installMocks(); aws = await import('@pulumi/aws'); pulumi = await import('@pulumi/pulumi'); });
describe('proto', () => {
  it('records', async () => {
    class C extends pulumi.ComponentResource { constructor(n: string) { super('atlas:x:C', n, {}, {}); const v = new aws.ec2.Vpc(`${n}-vpc`, { cidrBlock: '10.0.0.0/16' }, { parent: this });
      v.id.apply((id) => new aws.ec2.Subnet(`${n}-sn`, { vpcId: id, cidrBlock: '10.0.1.0/24' }, { parent: this })); this.registerOutputs({}); } }
    new C('c');
    await h.settle();
    console.log(h.resources.map((r) => [r.type, r.name, JSON.stringify(r.inputs)]));
    expect(h.ofType('aws:ec2/subnet:Subnet')).toHaveLength(1);
  });
});
