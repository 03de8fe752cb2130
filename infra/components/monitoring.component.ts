import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { Topology } from '@atlas/core';
import { type AlarmSubject, planAlarms } from '../planners/monitoring.planner';
import { type RegionContext, regionTags, shortName } from './common';

export interface MonitoringArgs {
  readonly ctx: RegionContext;
  readonly topology: Topology;
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly alertEmail: string;
  readonly pagerDutyEndpoint?: string;
  readonly albArnSuffix: pulumi.Input<string>;
  readonly clusterName: pulumi.Input<string>;
  readonly serviceName: pulumi.Input<string>;
  readonly dbInstanceIdentifier: pulumi.Input<string>;
  readonly cacheReplicationGroupId: pulumi.Input<string>;
}

/** Seed module `monitoring`: alarms (incl. replication lag, cross-region latency), dashboard, SNS. */
export class MonitoringComponent extends pulumi.ComponentResource {
  readonly topicArn: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Monitoring', name, {}, opts);
    const { ctx } = args;
    const tags = regionTags(ctx, 'monitoring');
    const child = { parent: this };

    const topic = new aws.sns.Topic(`${name}-alerts`, { name: shortName(ctx, 'alerts'), kmsMasterKeyId: args.kmsKeyArn, tags }, child);
    new aws.sns.TopicSubscription(`${name}-email`, { topic: topic.arn, protocol: 'email', endpoint: args.alertEmail }, child);
    if (args.pagerDutyEndpoint) {
      new aws.sns.TopicSubscription(`${name}-pagerduty`, { topic: topic.arn, protocol: 'https', endpoint: args.pagerDutyEndpoint, endpointAutoConfirms: true }, child);
    }

    const dimensions: Record<Exclude<AlarmSubject, 'atlas'>, pulumi.Input<Record<string, pulumi.Input<string>>>> = {
      alb: { LoadBalancer: args.albArnSuffix },
      service: { ClusterName: args.clusterName, ServiceName: args.serviceName },
      database: { DBInstanceIdentifier: args.dbInstanceIdentifier },
      cache: { ReplicationGroupId: args.cacheReplicationGroupId },
    };
    const alarms = planAlarms(args.topology, ctx.region.id);
    for (const a of alarms) {
      new aws.cloudwatch.MetricAlarm(`${name}-${a.key}`, {
        name: `${shortName(ctx, a.key)}`,
        alarmDescription: a.description,
        namespace: a.namespace,
        metricName: a.metricName,
        dimensions: a.subject === 'atlas' ? { ...a.dimensions } : dimensions[a.subject],
        statistic: a.statistic,
        extendedStatistic: a.extendedStatistic,
        comparisonOperator: a.comparison,
        threshold: a.threshold,
        period: a.periodSeconds,
        evaluationPeriods: a.evaluationPeriods,
        // No data from a custom metric means the emitter is down, which is itself worth a page.
        treatMissingData: a.subject === 'atlas' ? 'breaching' : 'missing',
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        tags,
      }, child);
    }

    new aws.cloudwatch.Dashboard(`${name}-dashboard`, {
      dashboardName: shortName(ctx, 'overview'),
      dashboardBody: pulumi.jsonStringify({
        widgets: alarms.map((a, i) => ({
          type: 'metric',
          x: (i % 3) * 8,
          y: Math.floor(i / 3) * 6,
          width: 8,
          height: 6,
          properties: {
            title: a.description,
            region: ctx.region.id,
            stat: a.extendedStatistic ?? a.statistic,
            metrics: [[a.namespace, a.metricName, ...Object.entries(a.subject === 'atlas' ? (a.dimensions ?? {}) : {}).flat()]],
            annotations: { horizontal: [{ value: a.threshold, label: 'alarm' }] },
          },
        })),
      }),
    }, child);

    this.topicArn = topic.arn;
    this.registerOutputs({ topicArn: this.topicArn });
  }
}
