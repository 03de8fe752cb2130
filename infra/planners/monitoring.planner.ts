import type { Topology } from '@atlas/core';

/** What an alarm watches; the component maps each subject to its CloudWatch dimensions. */
export type AlarmSubject = 'alb' | 'service' | 'database' | 'cache' | 'atlas';

export interface AlarmPlan {
  readonly key: string;
  readonly subject: AlarmSubject;
  readonly namespace: string;
  readonly metricName: string;
  /** Fixed dimensions (Atlas custom metrics); resource dimensions come from the subject. */
  readonly dimensions?: Readonly<Record<string, string>>;
  readonly statistic?: 'Average' | 'Maximum' | 'Sum';
  readonly extendedStatistic?: 'p95';
  readonly comparison: 'GreaterThanThreshold' | 'LessThanThreshold';
  readonly threshold: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly description: string;
}

/** The seed's cross-region API latency objective (p95). */
export const CROSS_REGION_LATENCY_SLO_MS = 200;
/** Headroom above the measured baseline round trip before a link is "slow". */
export const LATENCY_HEADROOM = 1.5;
/** Global-table replication lag at which operators are paged; the seed targets < 1 s. */
export const REPLICATION_LAG_ALARM_SECONDS = 5;
/** WAL retained by the oldest logical slot: a stuck subscriber fills the disk. */
export const SLOT_LAG_ALARM_BYTES = 5 * 1024 ** 3;

/**
 * A link's latency threshold. A flat 200 ms would alarm forever on links whose physical
 * round trip already exceeds it (us-east-1 ↔ ap-southeast-1 is ~214 ms), so the threshold
 * is the larger of the SLO and the measured baseline plus headroom.
 */
export function latencyThresholdMs(baselineRttMs: number): number {
  return Math.max(CROSS_REGION_LATENCY_SLO_MS, Math.ceil(baselineRttMs * LATENCY_HEADROOM));
}

export function planAlarms(topology: Topology, regionId: string): AlarmPlan[] {
  const peers = topology.regions.map((r) => r.id).filter((id) => id !== regionId);
  const alarms: AlarmPlan[] = [
    { key: 'alb-5xx', subject: 'alb', namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_Target_5XX_Count', statistic: 'Sum', comparison: 'GreaterThanThreshold', threshold: 50, periodSeconds: 60, evaluationPeriods: 3, description: 'API 5xx responses above 50/min for 3 min' },
    { key: 'alb-latency', subject: 'alb', namespace: 'AWS/ApplicationELB', metricName: 'TargetResponseTime', extendedStatistic: 'p95', comparison: 'GreaterThanThreshold', threshold: 0.05, periodSeconds: 60, evaluationPeriods: 5, description: 'intra-region API p95 above 50 ms (seed target)' },
    { key: 'ecs-cpu', subject: 'service', namespace: 'AWS/ECS', metricName: 'CPUUtilization', statistic: 'Average', comparison: 'GreaterThanThreshold', threshold: 85, periodSeconds: 60, evaluationPeriods: 5, description: 'API tasks CPU above 85% although autoscaling should have added tasks' },
    { key: 'db-cpu', subject: 'database', namespace: 'AWS/RDS', metricName: 'CPUUtilization', statistic: 'Average', comparison: 'GreaterThanThreshold', threshold: 80, periodSeconds: 300, evaluationPeriods: 3, description: 'database CPU above 80%' },
    { key: 'db-storage', subject: 'database', namespace: 'AWS/RDS', metricName: 'FreeStorageSpace', statistic: 'Average', comparison: 'LessThanThreshold', threshold: 10 * 1024 ** 3, periodSeconds: 300, evaluationPeriods: 1, description: 'database free storage below 10 GiB' },
    { key: 'db-slot-lag', subject: 'database', namespace: 'AWS/RDS', metricName: 'OldestReplicationSlotLag', statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: SLOT_LAG_ALARM_BYTES, periodSeconds: 300, evaluationPeriods: 2, description: 'a logical replication slot retains more than 5 GiB of WAL' },
    { key: 'cache-cpu', subject: 'cache', namespace: 'AWS/ElastiCache', metricName: 'EngineCPUUtilization', statistic: 'Average', comparison: 'GreaterThanThreshold', threshold: 80, periodSeconds: 300, evaluationPeriods: 3, description: 'Redis engine CPU above 80%' },
  ];
  for (const peer of peers) {
    const rtt = topology.rttMs[regionId]?.[peer] ?? 0;
    alarms.push(
      { key: `latency-${peer}`, subject: 'atlas', namespace: 'Atlas', metricName: 'CrossRegionLatencyMs', dimensions: { From: regionId, To: peer }, extendedStatistic: 'p95', comparison: 'GreaterThanThreshold', threshold: latencyThresholdMs(rtt), periodSeconds: 60, evaluationPeriods: 5, description: `p95 ${regionId}→${peer} above max(${CROSS_REGION_LATENCY_SLO_MS} ms, ${LATENCY_HEADROOM}× baseline ${rtt} ms)` },
      { key: `replication-lag-${peer}`, subject: 'atlas', namespace: 'Atlas', metricName: 'ReplicationLagSeconds', dimensions: { Subscriber: regionId, Publisher: peer }, statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: REPLICATION_LAG_ALARM_SECONDS, periodSeconds: 60, evaluationPeriods: 3, description: `global-table replication from ${peer} lags more than ${REPLICATION_LAG_ALARM_SECONDS} s` },
    );
  }
  return alarms;
}
