import { beforeAll, describe, expect, it } from 'vitest';
import { type Jurisdiction, loadTopology, type RegionConfig } from '@atlas/core';
import { testSecrets, testSettings } from './support/fixtures';
import { installMocks, type MockHarness } from './support/pulumi-mocks';

/** Components built one by one: the guards they enforce on their own, whoever calls them. */
let h: MockHarness;
let components: {
  documents: typeof import('../components/documents.component');
  backup: typeof import('../components/backup.component');
  rds: typeof import('../components/rds.component');
};

const region = (id: string, jurisdiction: Jurisdiction, code = 'x1'): RegionConfig => ({ id, code, displayName: id, jurisdiction, apiPort: 9000, dbPort: 59000 }) as RegionConfig;

beforeAll(async () => {
  h = await installMocks();
  components = {
    documents: await import('../components/documents.component'),
    backup: await import('../components/backup.component'),
    rds: await import('../components/rds.component'),
  };
});

describe('component guards', () => {
  it('DocumentsComponent refuses EU data in a US region', () => {
    expect(() => new components.documents.DocumentsComponent('bad-docs', { ctx: { region: region('us-east-1', 'EU'), stack: 't' }, kmsKeyArn: 'arn:k' })).toThrow(/EU data cannot be stored in us-east-1/);
  });

  it('BackupComponent refuses a copy target outside the jurisdiction, even when handed one directly', () => {
    expect(
      () => new components.backup.BackupComponent('bad-backup', { ctx: { region: region('eu-west-1', 'EU'), stack: 't' }, kmsKeyArn: 'arn:k', resourceArns: [], copyTargets: ['us-east-1'], accountId: '1' }),
    ).toThrow(/eu-west-1 → us-east-1 would leave EU/);
  });

  it('RdsComponent alone: no peer CIDRs means PostgreSQL is reachable from the API tasks only', async () => {
    new components.rds.RdsComponent('solo', {
      ctx: { region: region('ap-southeast-1', 'APAC', 'ap1'), stack: 't' },
      vpcId: 'vpc-1',
      subnetIds: ['s-1', 's-2'],
      appSecurityGroupId: 'sg-app',
      peerCidrs: [],
      kmsKeyArn: 'arn:aws:kms:ap-southeast-1:1:key/k',
      instanceClass: 'db.t4g.micro',
      postgresVersion: '18.1',
      regionCount: 1,
      maxApiTasks: 7,
    });
    await h.settle();
    const sg = h.one('aws:ec2/securityGroup:SecurityGroup', 'solo-sg');
    expect(sg.inputs.ingress).toEqual([expect.objectContaining({ fromPort: 5432, securityGroups: ['sg-app'] })]);
    const params = h.one('aws:rds/parameterGroup:ParameterGroup', 'solo');
    expect(params.inputs.family).toBe('postgres18');
    // One region: 2 + 5 slots and 2 + 10 walsenders for the mesh, plus the 7 API tasks' cache streams.
    const values = Object.fromEntries(params.inputs.parameters.map((x: { name: string; value: string }) => [x.name, x.value]));
    expect(values).toMatchObject({ max_replication_slots: '14', max_wal_senders: '19', wal_writer_delay: '10' });
    expect(h.one('aws:rds/instance:Instance', 'solo').inputs).toMatchObject({ region: 'ap-southeast-1', multiAz: true, storageEncrypted: true, publiclyAccessible: false });
    // Nothing from the refused components above reached the engine.
    expect(h.resources.filter((r) => r.name.startsWith('bad-') && r.type !== 'atlas:infra:Documents' && r.type !== 'atlas:infra:Backup')).toEqual([]);
  });

  it('AtlasRegion sizes its database for the stack\'s maxTasks: twice of them (a rollout at the maximum) hold cache streams', async () => {
    const { AtlasRegion } = await import('../components/region.component');
    const topology = loadTopology();
    const secrets = testSecrets(topology);
    const home = topology.regions[0]!;
    new AtlasRegion(`wide-${home.code}`, {
      ctx: { region: home, stack: 't' },
      settings: testSettings({ maxTasks: '25' }),
      topology,
      vpcCidr: '10.0.0.0/16',
      peerCidrs: [],
      backupCopyTargets: [],
      accountId: '123456789012',
      redisAuthToken: secrets.redisAuthToken,
      peerUrls: {},
      apiKeys: { documentKey: secrets.documentKeys[home.id]!, blindIndexKey: secrets.blindIndexKey, auditSigningKey: secrets.auditSigningKey, dbAppPassword: secrets.dbAppPassword, dbCacheStreamPassword: secrets.dbCacheStreamPassword },
    });
    await h.settle();
    expect(h.one('aws:appautoscaling/target:Target', `wide-${home.code}-app-scaling`).inputs.maxCapacity).toBe(25);
    const params = h.one('aws:rds/parameterGroup:ParameterGroup', `wide-${home.code}-db-params`);
    const values = Object.fromEntries(params.inputs.parameters.map((x: { name: string; value: string }) => [x.name, x.value]));
    const n = topology.regions.length;
    expect(values).toMatchObject({ max_replication_slots: String(n * 2 + 5 + 50), max_wal_senders: String(n * 2 + 10 + 50) });
  });
});
