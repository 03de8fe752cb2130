import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { serviceTrustPolicy } from '../planners/iam.planner';
import { type RegionContext, leastPrivilegePolicy, regionTags, shortName } from './common';

export interface WatchedRegion {
  readonly id: string;
  readonly healthUrl: string;
  readonly dbInstanceArn: pulumi.Input<string>;
}

export interface DisasterRecoveryArgs {
  /** The control region hosting the orchestrator; it should not be the region it guards most. */
  readonly ctx: RegionContext;
  readonly kmsKeyArn: pulumi.Input<string>;
  /**
   * Directory with the orchestrator's Lambda bundle (`index.mjs` exporting `handler`), built by
   * `npx tsx infra/lambda/build.ts` (default dist/orchestrator) before `pulumi up`.
   */
  readonly bundlePath: string;
  readonly regions: readonly WatchedRegion[];
  readonly health: { readonly intervalSeconds: number; readonly downAfter: number; readonly upAfter: number };
  readonly alertEmail: string;
}

/** Seed module `disaster-recovery`: the failover core as a scheduled Lambda, DynamoDB state, SNS. */
export class DisasterRecoveryComponent extends pulumi.ComponentResource {
  readonly functionArn: pulumi.Output<string>;
  readonly stateTableName: pulumi.Output<string>;
  readonly topicArn: pulumi.Output<string>;

  constructor(name: string, args: DisasterRecoveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:DisasterRecovery', name, {}, opts);
    const { ctx } = args;
    const tags = regionTags(ctx, 'disaster-recovery');
    const child = { parent: this };

    // Holds region states and failover steps only: ids and timestamps, no personal data, so one
    // control-region table does not conflict with rule R1.
    const table = new aws.dynamodb.Table(`${name}-state`, {
      region: ctx.region.id,
      name: shortName(ctx, 'failover-state'),
      billingMode: 'PAY_PER_REQUEST',
      hashKey: 'pk',
      rangeKey: 'sk',
      attributes: [{ name: 'pk', type: 'S' }, { name: 'sk', type: 'S' }],
      serverSideEncryption: { enabled: true, kmsKeyArn: args.kmsKeyArn },
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: true,
      tags,
    }, child);
    const topic = new aws.sns.Topic(`${name}-events`, { name: shortName(ctx, 'failover-events'), kmsMasterKeyId: args.kmsKeyArn, tags }, child);
    new aws.sns.TopicSubscription(`${name}-email`, { topic: topic.arn, protocol: 'email', endpoint: args.alertEmail }, child);
    const logs = new aws.cloudwatch.LogGroup(`${name}-logs`, { name: `/aws/lambda/${shortName(ctx, 'failover')}`, retentionInDays: 90, tags }, child);

    const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: serviceTrustPolicy('lambda.amazonaws.com'), tags }, child);
    new aws.iam.RolePolicy(`${name}-policy`, {
      role: role.id,
      policy: leastPrivilegePolicy(`${name}-policy`, {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'State', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'], Resource: table.arn },
          { Sid: 'Notify', Effect: 'Allow', Action: ['sns:Publish'], Resource: topic.arn },
          { Sid: 'Logs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: pulumi.interpolate`${logs.arn}:*` },
          { Sid: 'Keys', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: args.kmsKeyArn },
          // Fencing a failed primary = forcing a Multi-AZ failover of that one instance.
          { Sid: 'Fence', Effect: 'Allow', Action: ['rds:DescribeDBInstances', 'rds:RebootDBInstance'], Resource: args.regions.map((r) => r.dbInstanceArn) },
          { Sid: 'Metrics', Effect: 'Allow', Action: ['cloudwatch:PutMetricData'], Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Atlas' } } },
        ],
      }),
    }, child);

    const fn = new aws.lambda.Function(`${name}-orchestrator`, {
      region: ctx.region.id,
      name: shortName(ctx, 'failover'),
      role: role.arn,
      runtime: aws.lambda.Runtime.NodeJS20dX,
      architectures: ['arm64'],
      handler: 'index.handler',
      code: new pulumi.asset.FileArchive(args.bundlePath),
      timeout: 50,
      memorySize: 256,
      // One run at a time: two overlapping runs could both decide to fail over.
      reservedConcurrentExecutions: 1,
      kmsKeyArn: args.kmsKeyArn,
      environment: {
        variables: {
          ATLAS_STATE_TABLE: table.name,
          ATLAS_EVENTS_TOPIC: topic.arn,
          ATLAS_REGIONS: JSON.stringify(args.regions.map((r) => ({ id: r.id, healthUrl: r.healthUrl }))),
          ATLAS_HEALTH: JSON.stringify(args.health),
          // Fencing = a forced Multi-AZ failover of the region's instance (infra/lambda/orchestrator.aws.ts).
          ATLAS_DB_INSTANCES: pulumi.jsonStringify(Object.fromEntries(args.regions.map((r) => [r.id, r.dbInstanceArn]))),
        },
      },
      loggingConfig: { logFormat: 'JSON', logGroup: logs.name },
      tags,
    }, { ...child, dependsOn: [logs] });

    // EventBridge's finest schedule is one minute; the function probes
    // (60 / intervalSeconds) times per run so the effective interval matches the DNS checks.
    const schedule = new aws.cloudwatch.EventRule(`${name}-schedule`, { region: ctx.region.id, scheduleExpression: 'rate(1 minute)', description: 'Atlas failover orchestrator tick', tags }, child);
    new aws.cloudwatch.EventTarget(`${name}-target`, { region: ctx.region.id, rule: schedule.name, arn: fn.arn }, child);
    new aws.lambda.Permission(`${name}-invoke`, { region: ctx.region.id, action: 'lambda:InvokeFunction', function: fn.name, principal: 'events.amazonaws.com', sourceArn: schedule.arn }, child);

    this.functionArn = fn.arn;
    this.stateTableName = table.name;
    this.topicArn = topic.arn;
    this.registerOutputs({ functionArn: this.functionArn });
  }
}
