import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { planSubnets, type SubnetLayout, DEFAULT_SUBNET_LAYOUT } from '../planners/subnets.planner';
import { type RegionContext, regionTags } from './common';

export interface VpcArgs {
  readonly ctx: RegionContext;
  readonly cidr: string;
  readonly azCount: number;
  /** Other regions' VPC blocks: replication traffic from them is allowed through the NACLs. */
  readonly peerCidrs: readonly string[];
  readonly layout?: SubnetLayout;
}

/** Seed module `vpc`: multi-AZ, public/private subnets, a NAT per AZ, S3 endpoint, NACLs. */
export class VpcComponent extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly publicSubnetIds: pulumi.Output<string>[];
  readonly privateSubnetIds: pulumi.Output<string>[];
  readonly privateRouteTableIds: pulumi.Output<string>[];
  /** Security group of the API tasks; created here so RDS and Redis can admit it before ECS exists. */
  readonly appSecurityGroupId: pulumi.Output<string>;

  constructor(name: string, args: VpcArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Vpc', name, {}, opts);
    const tags = regionTags(args.ctx, 'vpc');
    const child = { parent: this };
    const plan = planSubnets(args.cidr, args.azCount, args.layout ?? DEFAULT_SUBNET_LAYOUT);
    const azs = aws.getAvailabilityZonesOutput({ state: 'available' }, child);

    const vpc = new aws.ec2.Vpc(`${name}-vpc`, { cidrBlock: args.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags }, child);
    this.vpcId = vpc.id;
    const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags }, child);

    const publicRt = new aws.ec2.RouteTable(`${name}-public-rt`, { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: igw.id }], tags }, child);
    const subnets = plan.map(
      (s) =>
        new aws.ec2.Subnet(
          `${name}-${s.tier}-${s.az}`,
          {
            vpcId: vpc.id,
            cidrBlock: s.cidr,
            availabilityZone: azs.names.apply((names) => names[s.az % names.length]!),
            // Nothing gets a public IP by launching: the ALB and NAT gateways bring their own.
            mapPublicIpOnLaunch: false,
            tags: { ...tags, tier: s.tier },
          },
          child,
        ),
    );
    const publicSubnets = subnets.filter((_, i) => plan[i]!.tier === 'public');
    const privateSubnets = subnets.filter((_, i) => plan[i]!.tier === 'private');
    this.publicSubnetIds = publicSubnets.map((s) => s.id);
    this.privateSubnetIds = privateSubnets.map((s) => s.id);

    publicSubnets.forEach((s, az) => new aws.ec2.RouteTableAssociation(`${name}-public-rta-${az}`, { subnetId: s.id, routeTableId: publicRt.id }, child));
    // One NAT per AZ: an AZ outage must not cut the other AZs' egress.
    const privateRts = privateSubnets.map((s, az) => {
      const eip = new aws.ec2.Eip(`${name}-nat-eip-${az}`, { domain: 'vpc', tags }, child);
      const nat = new aws.ec2.NatGateway(`${name}-nat-${az}`, { allocationId: eip.id, subnetId: publicSubnets[az]!.id, tags }, { ...child, dependsOn: [igw] });
      const rt = new aws.ec2.RouteTable(`${name}-private-rt-${az}`, { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }], tags }, child);
      new aws.ec2.RouteTableAssociation(`${name}-private-rta-${az}`, { subnetId: s.id, routeTableId: rt.id }, child);
      return rt;
    });
    this.privateRouteTableIds = privateRts.map((rt) => rt.id);

    // Gateway endpoint: S3 traffic (documents, image layers) stays off the NAT and the internet.
    new aws.ec2.VpcEndpoint(`${name}-s3`, { vpcId: vpc.id, serviceName: `com.amazonaws.${args.ctx.region.id}.s3`, vpcEndpointType: 'Gateway', routeTableIds: this.privateRouteTableIds, tags }, child);

    this.createNacls(name, vpc, publicSubnets, privateSubnets, args, tags);

    const appSg = new aws.ec2.SecurityGroup(`${name}-app-sg`, { vpcId: vpc.id, description: 'Atlas API tasks', egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'AWS APIs, peers and migrations' }], tags }, child);
    this.appSecurityGroupId = appSg.id;
    this.registerOutputs({ vpcId: this.vpcId });
  }

  /** NACLs are the coarse, stateless layer; security groups do the fine-grained work. */
  private createNacls(name: string, vpc: aws.ec2.Vpc, pub: aws.ec2.Subnet[], priv: aws.ec2.Subnet[], args: VpcArgs, tags: Record<string, string>): void {
    const child = { parent: this };
    const ephemeral = { protocol: 'tcp', fromPort: 1024, toPort: 65535 };
    new aws.ec2.NetworkAcl(`${name}-public-nacl`, {
      vpcId: vpc.id,
      subnetIds: pub.map((s) => s.id),
      ingress: [
        { ruleNo: 100, action: 'allow', protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlock: '0.0.0.0/0' },
        { ruleNo: 110, action: 'allow', protocol: 'tcp', fromPort: 80, toPort: 80, cidrBlock: '0.0.0.0/0' },
        { ruleNo: 120, action: 'allow', ...ephemeral, cidrBlock: '0.0.0.0/0' },
      ],
      egress: [{ ruleNo: 100, action: 'allow', protocol: '-1', fromPort: 0, toPort: 0, cidrBlock: '0.0.0.0/0' }],
      tags,
    }, child);
    // Private subnets accept the VPC itself, peers' replication (PostgreSQL 5432) and return traffic.
    const ingress = [
      { ruleNo: 100, action: 'allow', protocol: '-1', fromPort: 0, toPort: 0, cidrBlock: args.cidr },
      ...args.peerCidrs.map((cidr, i) => ({ ruleNo: 200 + i, action: 'allow', protocol: 'tcp', fromPort: 5432, toPort: 5432, cidrBlock: cidr })),
      { ruleNo: 300, action: 'allow', ...ephemeral, cidrBlock: '0.0.0.0/0' },
    ];
    new aws.ec2.NetworkAcl(`${name}-private-nacl`, {
      vpcId: vpc.id,
      subnetIds: priv.map((s) => s.id),
      ingress,
      egress: [{ ruleNo: 100, action: 'allow', protocol: '-1', fromPort: 0, toPort: 0, cidrBlock: '0.0.0.0/0' }],
      tags,
    }, child);
  }
}
