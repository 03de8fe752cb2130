import { describe, expect, it } from 'vitest';
import { loadTopology } from '@atlas/core';
import { assertLeastPrivilege, leastPrivilegeViolations, type PolicyDocument } from '../planners/iam.planner';
import { CROSS_REGION_LATENCY_SLO_MS, latencyThresholdMs, planAlarms } from '../planners/monitoring.planner';

const doc = (...Statement: PolicyDocument['Statement']): PolicyDocument => ({ Version: '2012-10-17', Statement });

describe('leastPrivilegeViolations', () => {
  it.each([
    ['"*" action', doc({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b' }), ['statement 0: Action "*"']],
    ['service wildcard on every resource', doc({ Sid: 'S', Effect: 'Allow', Action: ['s3:*'], Resource: '*' }), ['S: s3:* on Resource "*"']],
    ['empty resources', doc({ Sid: 'E', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [] }), ['E: empty Action or Resource']],
    ['named action on "*" (no resource-level permissions)', doc({ Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' }), []],
    ['service wildcard on one resource', doc({ Effect: 'Allow', Action: ['s3:*'], Resource: 'arn:aws:s3:::b/*' }), []],
    ['deny with wildcards', doc({ Effect: 'Deny', Action: '*', Resource: '*' }), []],
  ])('%s', (_label, policy, expected) => {
    expect(leastPrivilegeViolations(policy)).toEqual(expected);
  });

  it('assertLeastPrivilege names the policy and returns JSON when clean', () => {
    expect(() => assertLeastPrivilege(doc({ Effect: 'Allow', Action: '*', Resource: '*' }), 'task-policy')).toThrow(/^task-policy: /);
    expect(JSON.parse(assertLeastPrivilege(doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }), 'ok'))).toMatchObject({ Version: '2012-10-17' });
  });
});

describe('planAlarms', () => {
  const topology = loadTopology();

  it.each([
    [68, 200],
    [177, 266],
    [214, 321],
    [0, 200],
  ])('a %i ms baseline link alarms above %i ms', (rtt, threshold) => {
    expect(latencyThresholdMs(rtt)).toBe(threshold);
  });

  it('watches latency and replication lag for every peer, never only the SLO where the link is slower', () => {
    const alarms = planAlarms(topology, 'us-east-1');
    const latency = alarms.filter((a) => a.metricName === 'CrossRegionLatencyMs');
    expect(latency.map((a) => [a.dimensions?.To, a.threshold])).toEqual([
      ['eu-west-1', 200],
      ['ap-southeast-1', 321],
    ]);
    for (const a of latency) expect(a.threshold).toBeGreaterThan((topology.rttMs['us-east-1']?.[a.dimensions!.To!] ?? 0));
    expect(alarms.filter((a) => a.metricName === 'ReplicationLagSeconds').map((a) => a.dimensions?.Publisher)).toEqual(['eu-west-1', 'ap-southeast-1']);
    expect(alarms.some((a) => a.metricName === 'OldestReplicationSlotLag')).toBe(true);
    expect(Math.min(...latency.map((a) => a.threshold))).toBe(CROSS_REGION_LATENCY_SLO_MS);
  });

  it('gives every alarm a unique key (they become resource names)', () => {
    const keys = planAlarms(topology, 'eu-west-1').map((a) => a.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
