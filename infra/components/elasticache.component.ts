import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { type RegionContext, regionTags, shortName } from './common';

export interface ElastiCacheArgs {
  readonly ctx: RegionContext;
  readonly vpcId: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<string>[];
  readonly appSecurityGroupId: pulumi.Input<string>;
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly nodeType: string;
  /** Stack secret `atlas:redisAuthToken`; Redis requires 16–128 printable characters. */
  readonly authToken: pulumi.Input<string>;
}

/**
 * Seed module `elasticache`: Redis 7 with auth token, TLS, encryption at rest, Multi-AZ.
 * One primary plus a replica in another AZ (not cluster mode): the API's cache interface is a
 * plain key-value store, and the cache is regional like the data it holds (rule R1).
 */
export class ElastiCacheComponent extends pulumi.ComponentResource {
  readonly primaryEndpoint: pulumi.Output<string>;
  readonly authSecretArn: pulumi.Output<string>;
  readonly replicationGroupId: pulumi.Output<string>;

  constructor(name: string, args: ElastiCacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:ElastiCache', name, {}, opts);
    const tags = regionTags(args.ctx, 'elasticache');
    const child = { parent: this };

    const subnets = new aws.elasticache.SubnetGroup(`${name}-subnets`, { subnetIds: args.subnetIds, tags }, child);
    const sg = new aws.ec2.SecurityGroup(`${name}-sg`, {
      vpcId: args.vpcId,
      description: 'Atlas Redis: API tasks only',
      ingress: [{ protocol: 'tcp', fromPort: 6379, toPort: 6379, securityGroups: [args.appSecurityGroupId], description: 'API tasks' }],
      tags,
    }, child);

    const group = new aws.elasticache.ReplicationGroup(`${name}-redis`, {
      region: args.ctx.region.id,
      replicationGroupId: shortName(args.ctx, 'redis'),
      description: `Atlas cache ${args.ctx.region.id}`,
      engine: 'redis',
      engineVersion: '7.1',
      parameterGroupName: 'default.redis7',
      nodeType: args.nodeType,
      numCacheClusters: 2,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      atRestEncryptionEnabled: true,
      kmsKeyId: args.kmsKeyArn,
      transitEncryptionEnabled: true,
      authToken: args.authToken,
      subnetGroupName: subnets.name,
      securityGroupIds: [sg.id],
      snapshotRetentionLimit: 1,
      tags,
    }, child);

    // The tasks read the token from Secrets Manager, so it never appears in a task definition.
    const secret = new aws.secretsmanager.Secret(`${name}-auth`, { name: `${shortName(args.ctx, 'redis-auth')}`, kmsKeyId: args.kmsKeyArn, tags }, child);
    new aws.secretsmanager.SecretVersion(`${name}-auth-v`, { secretId: secret.id, secretString: pulumi.secret(args.authToken) }, child);

    this.primaryEndpoint = group.primaryEndpointAddress;
    this.authSecretArn = secret.arn;
    this.replicationGroupId = group.id;
    this.registerOutputs({ primaryEndpoint: this.primaryEndpoint });
  }
}
