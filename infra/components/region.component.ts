import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { Topology } from '@atlas/core';
import type { StackSettings } from '../config/stack-config';
import { BackupComponent } from './backup.component';
import { type RegionContext, regionTags } from './common';
import { DocumentsComponent } from './documents.component';
import { EcsComponent, type EcsArgs } from './ecs.component';
import { ElastiCacheComponent } from './elasticache.component';
import { MonitoringComponent } from './monitoring.component';
import { RdsComponent } from './rds.component';
import { VpcComponent } from './vpc.component';

/** The ECS service's deploymentMaximumPercent (ecs.component.ts): tasks of a rollout, as a percentage of the desired count. */
export const API_DEPLOYMENT_MAX_PERCENT = 200;

export interface AtlasRegionArgs {
  readonly ctx: RegionContext;
  readonly settings: StackSettings;
  readonly topology: Topology;
  readonly vpcCidr: string;
  readonly peerCidrs: readonly string[];
  readonly backupCopyTargets: readonly string[];
  readonly accountId: pulumi.Input<string>;
  readonly redisAuthToken: pulumi.Input<string>;
  /** ATLAS_PEER_URLS of this region's API: every other region's public origin. */
  readonly peerUrls: Readonly<Record<string, string>>;
  readonly apiKeys: EcsArgs['apiKeys'];
}

/**
 * Everything one region runs, wired together. Each region gets its own KMS key: a key is
 * regional in AWS anyway, and a per-region key means regional data is unreadable outside it.
 */
export class AtlasRegion extends pulumi.ComponentResource {
  readonly ecs: EcsComponent;
  readonly rds: RdsComponent;
  readonly vpc: VpcComponent;
  readonly kmsKeyArn: pulumi.Output<string>;

  constructor(name: string, args: AtlasRegionArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Region', name, {}, opts);
    const { ctx, settings } = args;
    const child = { parent: this };

    const key = new aws.kms.Key(`${name}-key`, {
      region: ctx.region.id,
      description: `Atlas ${ctx.stack} ${ctx.region.id}: data at rest`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: pulumi.output(args.accountId).apply((account) => keyPolicy(account)),
      tags: regionTags(ctx, 'kms'),
    }, child);
    this.kmsKeyArn = key.arn;

    this.vpc = new VpcComponent(`${name}-net`, { ctx, cidr: args.vpcCidr, azCount: settings.azCount, peerCidrs: args.peerCidrs }, child);
    const docs = new DocumentsComponent(`${name}-docs`, { ctx, kmsKeyArn: key.arn }, child);
    const base = { ctx, vpcId: this.vpc.vpcId, subnetIds: this.vpc.privateSubnetIds, appSecurityGroupId: this.vpc.appSecurityGroupId, kmsKeyArn: key.arn };
    this.rds = new RdsComponent(`${name}-db`, {
      ...base,
      peerCidrs: args.peerCidrs,
      instanceClass: settings.dbInstanceClass,
      postgresVersion: settings.postgresVersion,
      regionCount: args.topology.regions.length,
      // Each API task holds one cache stream. The service scales up to maxTasks and deploys with
      // deploymentMaximumPercent 200 (ecs.component.ts): a rollout at the maximum runs the old
      // and the new tasks side by side, hence twice maxTasks.
      maxApiTasks: settings.maxTasks * API_DEPLOYMENT_MAX_PERCENT / 100,
    }, child);
    const cache = new ElastiCacheComponent(`${name}-cache`, { ...base, nodeType: settings.cacheNodeType, authToken: args.redisAuthToken }, child);
    this.ecs = new EcsComponent(`${name}-app`, {
      ctx,
      vpcId: this.vpc.vpcId,
      publicSubnetIds: this.vpc.publicSubnetIds,
      privateSubnetIds: this.vpc.privateSubnetIds,
      appSecurityGroupId: this.vpc.appSecurityGroupId,
      kmsKeyArn: key.arn,
      imageTag: settings.imageTag,
      cpu: settings.taskCpu,
      memory: settings.taskMemory,
      minTasks: settings.minTasks,
      maxTasks: settings.maxTasks,
      healthPath: settings.healthPath,
      zoneId: settings.route53ZoneId,
      domain: settings.domain,
      documentsBucketArn: docs.bucketArn,
      documentsBucketName: docs.bucketName,
      dbSecretArn: this.rds.masterSecretArn,
      dbAddress: this.rds.address,
      dbPort: this.rds.port,
      dbName: this.rds.dbName,
      redisSecretArn: cache.authSecretArn,
      redisEndpoint: cache.primaryEndpoint,
      authPublicKey: settings.authPublicKey,
      peerUrls: args.peerUrls,
      apiKeys: args.apiKeys,
    }, child);
    new BackupComponent(`${name}-backup`, { ctx, kmsKeyArn: key.arn, resourceArns: [this.rds.instanceArn, docs.bucketArn], copyTargets: args.backupCopyTargets, accountId: args.accountId }, child);
    new MonitoringComponent(`${name}-mon`, {
      ctx,
      topology: args.topology,
      kmsKeyArn: key.arn,
      alertEmail: settings.alertEmail,
      pagerDutyEndpoint: settings.pagerDutyEndpoint,
      albArnSuffix: this.ecs.albArnSuffix,
      clusterName: this.ecs.clusterName,
      serviceName: this.ecs.serviceName,
      dbInstanceIdentifier: this.rds.instanceIdentifier,
      cacheReplicationGroupId: cache.replicationGroupId,
    }, child);
    this.registerOutputs({ albDnsName: this.ecs.albDnsName });
  }
}

/**
 * Key policy. The account root keeps administration (AWS's recommended statement; without it
 * a key can become unmanageable) and IAM policies grant use per role. CloudWatch alarms need
 * the key to publish to encrypted SNS topics.
 */
function keyPolicy(account: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'AccountAdmin', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' },
      { Sid: 'AlarmsToEncryptedTopics', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*' },
    ],
  });
}
