import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface PeeredVpc {
  readonly regionId: string;
  readonly vpcId: pulumi.Input<string>;
  readonly cidr: string;
  readonly privateRouteTableIds: pulumi.Input<string>[];
  readonly provider: aws.Provider;
}

/**
 * A full mesh of cross-region VPC peerings. Logical replication of the global tables runs
 * subscriber → publisher on 5432 over these links (TLS enforced by rds.force_ssl); regional
 * tables are in no publication, so the links carry no regional rows (rule R1).
 */
export class PeeringMeshComponent extends pulumi.ComponentResource {
  constructor(name: string, vpcs: readonly PeeredVpc[], opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:PeeringMesh', name, {}, opts);
    vpcs.forEach((a, i) => {
      for (const b of vpcs.slice(i + 1)) {
        const pair = `${a.regionId}--${b.regionId}`;
        const peering = new aws.ec2.VpcPeeringConnection(`${name}-${pair}`, {
          vpcId: a.vpcId,
          peerVpcId: b.vpcId,
          peerRegion: b.regionId,
          tags: { project: 'atlas', Name: `atlas-${pair}` },
        }, { parent: this, provider: a.provider });
        new aws.ec2.VpcPeeringConnectionAccepter(`${name}-${pair}-accept`, { vpcPeeringConnectionId: peering.id, autoAccept: true, tags: { project: 'atlas' } }, { parent: this, provider: b.provider });
        a.privateRouteTableIds.forEach((rt, n) => new aws.ec2.Route(`${name}-${pair}-a${n}`, { routeTableId: rt, destinationCidrBlock: b.cidr, vpcPeeringConnectionId: peering.id }, { parent: this, provider: a.provider }));
        b.privateRouteTableIds.forEach((rt, n) => new aws.ec2.Route(`${name}-${pair}-b${n}`, { routeTableId: rt, destinationCidrBlock: a.cidr, vpcPeeringConnectionId: peering.id }, { parent: this, provider: b.provider }));
      }
    });
    this.registerOutputs({});
  }
}
