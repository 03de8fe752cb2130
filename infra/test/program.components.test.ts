import { beforeAll, describe, expect, it } from 'vitest';
import type { Topology } from '@atlas/core';
import { installMocks, type MockHarness, type RecordedResource } from './support/pulumi-mocks';
import { API_ENV, type ApiEnvName, missingApiEnv } from '@atlas/api/config-keys';
import { testSecrets, testSettings, topologyWithEuPartner } from './support/fixtures';

/**
 * The whole program under Pulumi's mocks: no CLI, no cloud. Every assertion reads the inputs
 * the engine would send to AWS and Cloudflare.
 */
let h: MockHarness;
let topology: Topology;

beforeAll(async () => {
  h = await installMocks();
  const { createAtlas } = await import('../program');
  topology = topologyWithEuPartner();
  createAtlas('prod', testSettings(), topology, testSecrets(topology));
  await h.settle();
});

const T = {
  bucket: 'aws:s3/bucket:Bucket',
  sse: 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
  pab: 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock',
  db: 'aws:rds/instance:Instance',
  params: 'aws:rds/parameterGroup:ParameterGroup',
  redis: 'aws:elasticache/replicationGroup:ReplicationGroup',
  listener: 'aws:lb/listener:Listener',
  vault: 'aws:backup/vault:Vault',
  plan: 'aws:backup/plan:Plan',
  rolePolicy: 'aws:iam/rolePolicy:RolePolicy',
  subnet: 'aws:ec2/subnet:Subnet',
  nat: 'aws:ec2/natGateway:NatGateway',
  sg: 'aws:ec2/securityGroup:SecurityGroup',
} as const;

const regionOfArn = (arn: string): string => arn.split(':')[3]!;
const jurisdictionOf = (region: string): string => topology.regions.find((r) => r.id === region)!.jurisdiction;
const inRegion = (r: RecordedResource, code: string): boolean => r.name.startsWith(`atlas-${code}-`);

describe('vpc', () => {
  it('spreads public and private subnets over 3 AZs with a NAT gateway per AZ, in every region', () => {
    for (const region of topology.regions) {
      const subnets = h.ofType(T.subnet).filter((s) => inRegion(s, region.code));
      expect(subnets.filter((s) => s.inputs.tags.tier === 'private').map((s) => s.inputs.availabilityZone).sort()).toEqual([`${region.id}a`, `${region.id}b`, `${region.id}c`]);
      expect(subnets.filter((s) => s.inputs.tags.tier === 'public')).toHaveLength(3);
      expect(subnets.every((s) => s.inputs.mapPublicIpOnLaunch === false)).toBe(true);
      expect(h.ofType(T.nat).filter((n) => inRegion(n, region.code))).toHaveLength(3);
    }
  });

  it('gives regions non-overlapping VPCs and peers every pair', () => {
    const cidrs = h.ofType('aws:ec2/vpc:Vpc').map((v) => v.inputs.cidrBlock);
    expect(new Set(cidrs).size).toBe(topology.regions.length);
    const n = topology.regions.length;
    expect(h.ofType('aws:ec2/vpcPeeringConnection:VpcPeeringConnection')).toHaveLength((n * (n - 1)) / 2);
  });
});

describe('rds', () => {
  it('is encrypted with the regional KMS key, Multi-AZ, private, 7-day backups, deletion protected', () => {
    const dbs = h.ofType(T.db);
    expect(dbs).toHaveLength(topology.regions.length);
    for (const db of dbs) {
      expect(db.inputs).toMatchObject({ storageEncrypted: true, multiAz: true, publiclyAccessible: false, backupRetentionPeriod: 7, deletionProtection: true, manageMasterUserPassword: true });
      expect(db.inputs.kmsKeyId).toMatch(/^arn:/);
      expect(db.inputs.password).toBeUndefined();
    }
  });

  it('enables logical replication and forces TLS', () => {
    for (const p of h.ofType(T.params)) {
      const params = Object.fromEntries(p.inputs.parameters.map((x: { name: string; value: string }) => [x.name, x.value]));
      expect(params).toMatchObject({ 'rds.logical_replication': '1', 'rds.force_ssl': '1' });
      expect(p.inputs.family).toBe('postgres18');
    }
  });

  it('has a replication slot and a walsender for every API task\'s cache stream at the service\'s peak, besides the mesh\'s, and flushes WAL every 10 ms', async () => {
    const { API_DEPLOYMENT_MAX_PERCENT } = await import('../components/region.component');
    const n = topology.regions.length;
    for (const region of topology.regions) {
      // The peak as ECS would run it: the scaling maximum, times a rollout's surplus.
      const service = h.one('aws:ecs/service:Service', `atlas-${region.code}-app-service`);
      expect(service.inputs.deploymentMaximumPercent).toBe(API_DEPLOYMENT_MAX_PERCENT);
      const scaling = h.one('aws:appautoscaling/target:Target', `atlas-${region.code}-app-scaling`);
      const peakTasks = (scaling.inputs.maxCapacity * service.inputs.deploymentMaximumPercent) / 100;
      expect(peakTasks).toBe(20);
      const p = h.one(T.params, `atlas-${region.code}-db-params`);
      const byName = Object.fromEntries(p.inputs.parameters.map((x: { name: string; value: string; applyMethod?: string }) => [x.name, x]));
      // Mesh: one slot per subscribing region + 5 (anti-entropy, standbys); walsenders + 10.
      expect(Number(byName.max_replication_slots.value)).toBe(n * 2 + 5 + peakTasks);
      expect(Number(byName.max_wal_senders.value)).toBe(n * 2 + 10 + peakTasks);
      expect(byName.max_replication_slots.applyMethod).toBe('pending-reboot');
      expect(byName.max_wal_senders.applyMethod).toBe('pending-reboot');
      // Dynamic parameter (milliseconds): applied without a reboot.
      expect(byName.wal_writer_delay.value).toBe('10');
      expect(byName.wal_writer_delay.applyMethod).not.toBe('pending-reboot');
    }
  });

  it('admits PostgreSQL only from the API tasks and peer VPCs, never the internet', () => {
    for (const sg of h.ofType(T.sg).filter((s) => s.name.endsWith('-db-sg'))) {
      const cidrs = sg.inputs.ingress.flatMap((r: { cidrBlocks?: string[] }) => r.cidrBlocks ?? []);
      expect(cidrs).not.toContain('0.0.0.0/0');
      expect(cidrs).toHaveLength(topology.regions.length - 1);
      expect(sg.inputs.ingress.every((r: { fromPort: number }) => r.fromPort === 5432)).toBe(true);
    }
  });
});

describe('elasticache', () => {
  it('runs Redis 7 with auth token, TLS, KMS at rest and Multi-AZ failover', () => {
    for (const r of h.ofType(T.redis)) {
      expect(r.inputs).toMatchObject({ engine: 'redis', transitEncryptionEnabled: true, atRestEncryptionEnabled: true, multiAzEnabled: true, automaticFailoverEnabled: true, numCacheClusters: 2 });
      expect(r.inputs.engineVersion).toMatch(/^7\./);
      expect(r.inputs.authToken).toHaveLength(39);
      expect(r.inputs.kmsKeyId).toMatch(/^arn:/);
    }
  });
});

describe('ecs', () => {
  it('terminates HTTPS with the TLS 1.3-only policy and redirects HTTP', () => {
    const listeners = h.ofType(T.listener);
    const https = listeners.filter((l) => l.inputs.protocol === 'HTTPS');
    expect(https).toHaveLength(topology.regions.length);
    for (const l of https) expect(l.inputs.sslPolicy).toBe('ELBSecurityPolicy-TLS13-1-3-2021-06');
    for (const l of listeners.filter((x) => x.inputs.protocol === 'HTTP')) expect(l.inputs.defaultActions[0].type).toBe('redirect');
  });

  it('scales each service between 2 and 10 tasks on CPU and memory', () => {
    for (const t of h.ofType('aws:appautoscaling/target:Target')) expect([t.inputs.minCapacity, t.inputs.maxCapacity]).toEqual([2, 10]);
    const metrics = h.ofType('aws:appautoscaling/policy:Policy').map((p) => p.inputs.targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType);
    expect(metrics.filter((m: string) => m === 'ECSServiceAverageCPUUtilization')).toHaveLength(topology.regions.length);
    expect(metrics.filter((m: string) => m === 'ECSServiceAverageMemoryUtilization')).toHaveLength(topology.regions.length);
  });

  it('runs tasks in private subnets without public IPs, as the unprivileged user', () => {
    for (const s of h.ofType('aws:ecs/service:Service')) expect(s.inputs.networkConfiguration.assignPublicIp).toBe(false);
    for (const td of h.ofType('aws:ecs/taskDefinition:TaskDefinition')) {
      const [container] = JSON.parse(td.inputs.containerDefinitions);
      expect(container.user).toBe('node');
      expect(container.readonlyRootFilesystem).toBe(true);
    }
  });

  it('gives the API container every variable packages/api requires, secrets only by Secrets Manager reference', () => {
    const secrets = testSecrets(topology);
    const leaks = [secrets.redisAuthToken, secrets.blindIndexKey, secrets.auditSigningKey, secrets.dbAppPassword, secrets.dbCacheStreamPassword, ...Object.values(secrets.documentKeys)];
    const defs = h.ofType('aws:ecs/taskDefinition:TaskDefinition');
    expect(defs).toHaveLength(topology.regions.length);
    for (const td of defs) {
      const [container] = JSON.parse(td.inputs.containerDefinitions);
      const plain: string[] = container.environment.map((e: { name: string }) => e.name);
      const fromSecrets: { name: ApiEnvName; valueFrom: string }[] = container.secrets;
      expect(missingApiEnv([...plain, ...fromSecrets.map((s) => s.name)]), td.name).toEqual([]);
      for (const name of plain) expect(API_ENV[name as ApiEnvName]?.secret, `${td.name} ${name}`).toBe(false);
      for (const s of fromSecrets) expect(s.valueFrom, `${td.name} ${s.name}`).toMatch(/^arn:aws:[a-z]+:[^:]*:\d{12}:/);
      for (const text of leaks) expect(td.inputs.containerDefinitions).not.toContain(text);
      const byName = Object.fromEntries(fromSecrets.map((s) => [s.name, s.valueFrom]));
      expect(byName.ATLAS_ADMIN_DB_USER).toMatch(/:username::$/);
      expect(byName.ATLAS_ADMIN_DB_PASSWORD).toMatch(/:password::$/);
      expect(byName.ATLAS_DB_PASSWORD).toMatch(/-api-keys:ATLAS_DB_PASSWORD::$/);
      expect(container.environment).toContainEqual({ name: 'ATLAS_DB_USER', value: 'atlas_app' });
      expect(byName.ATLAS_DOCUMENT_KEY).toMatch(/-api-keys:ATLAS_DOCUMENT_KEY::$/);
      // The cache-invalidation stream: its password from the same secret, the role by default.
      expect(byName.ATLAS_CACHE_STREAM_PASSWORD).toMatch(/-api-keys:ATLAS_CACHE_STREAM_PASSWORD::$/);
      expect(plain).not.toContain('ATLAS_CACHE_STREAM_USER');
      expect(byName.ATLAS_CACHE_STREAM_URL).toBeUndefined();
    }
  });

  it('never puts a stack secret in plain text into any resource input', () => {
    const secrets = testSecrets(topology);
    const leaks = [secrets.redisAuthToken, secrets.blindIndexKey, secrets.auditSigningKey, secrets.dbAppPassword, secrets.dbCacheStreamPassword, ...Object.values(secrets.documentKeys)];
    // Secrets Manager versions are where the keys belong (the Redis auth token also goes to its
    // replication group); every other resource must not carry them.
    const holders = new Set(['aws:secretsmanager/secretVersion:SecretVersion', T.redis]);
    const others = h.resources.filter((r) => !holders.has(r.type));
    expect(others.length).toBeGreaterThan(100);
    for (const r of others) {
      const text = JSON.stringify(r.inputs);
      for (const secret of leaks) expect(text.includes(secret), `${r.type} ${r.name}`).toBe(false);
    }
  });

  it('stores each region its own document key, and the tasks read it from that region only', () => {
    const secrets = testSecrets(topology);
    for (const region of topology.regions) {
      const version = h.one('aws:secretsmanager/secretVersion:SecretVersion', `atlas-${region.code}-app-api-keys-v`);
      const stored = JSON.parse(version.inputs.secretString);
      expect(stored).toEqual({ ATLAS_DOCUMENT_KEY: secrets.documentKeys[region.id], ATLAS_BLIND_INDEX_KEY: secrets.blindIndexKey, ATLAS_AUDIT_SIGNING_KEY: secrets.auditSigningKey, ATLAS_DB_PASSWORD: secrets.dbAppPassword, ATLAS_CACHE_STREAM_PASSWORD: secrets.dbCacheStreamPassword });
      const exec = JSON.parse(h.one(T.rolePolicy, `atlas-${region.code}-app-exec-policy`).inputs.policy);
      const readable: string[] = exec.Statement.find((s: { Sid: string }) => s.Sid === 'Secrets').Resource;
      expect(readable.some((arn) => arn.endsWith(`atlas-${region.code}-app-api-keys`))).toBe(true);
      expect(readable.filter((arn) => arn.includes('-app-api-keys')).every((arn) => arn.includes(`atlas-${region.code}-`))).toBe(true);
    }
  });

  it('starts the real API config loader from what a task receives (secrets resolved)', async () => {
    const { configFromEnv } = await import('../../packages/api/src/config');
    const { generateKeyPairSync } = await import('node:crypto');
    const td = h.one('aws:ecs/taskDefinition:TaskDefinition', 'atlas-euw1-app');
    const [container] = JSON.parse(td.inputs.containerDefinitions);
    const audit = JSON.stringify(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }));
    const resolved: Record<string, string> = { username: 'atlas_admin', password: 'adm!n', ATLAS_DB_PASSWORD: 'p@ss:w/rd%', ATLAS_CACHE_STREAM_PASSWORD: 'str3am:p@ss/%', ATLAS_DOCUMENT_KEY: Buffer.alloc(32, 7).toString('base64'), ATLAS_BLIND_INDEX_KEY: 'b'.repeat(32), ATLAS_AUDIT_SIGNING_KEY: audit };
    const env: Record<string, string> = Object.fromEntries(container.environment.map((e: { name: string; value: string }) => [e.name, e.value]));
    for (const s of container.secrets as { name: string; valueFrom: string }[]) {
      const key = /:([A-Za-z_]+)::$/.exec(s.valueFrom)?.[1];
      env[s.name] = key ? resolved[key]! : 'redis-token';
    }
    const config = configFromEnv(env);
    expect(config.region.id).toBe('eu-west-1');
    // Document bodies go to the region's own bucket (AWS S3, virtual-hosted addressing).
    const bucket = h.one(T.bucket, 'atlas-euw1-docs-bucket');
    expect(config.documentsBucket).toEqual({ bucket: expect.stringMatching(new RegExp(`^${bucket.inputs.bucketPrefix}[0-9]+$`)), region: 'eu-west-1', forcePathStyle: false });
    expect(config.redisUrl).toBe('rediss://atlas-euw1-cache-redis.cache:6379');
    const url = new URL(config.databaseUrl);
    expect([url.hostname, url.port, url.pathname, decodeURIComponent(url.username), decodeURIComponent(url.password)]).toEqual(['atlas-euw1-db-db.rds', '5432', '/atlas', 'atlas_app', 'p@ss:w/rd%']);
    expect(url.searchParams.get('sslmode')).toBe('verify-full');
    const admin = new URL(config.adminDatabaseUrl!);
    expect([admin.hostname, decodeURIComponent(admin.username), decodeURIComponent(admin.password), admin.searchParams.get('sslmode')]).toEqual(['atlas-euw1-db-db.rds', 'atlas_admin', 'adm!n', 'verify-full']);
    // The cache-invalidation stream: atlas_cache_stream on the same server, over verified TLS.
    const stream = new URL(config.cacheStreamUrl!);
    expect([stream.hostname, stream.port, stream.pathname, decodeURIComponent(stream.username), decodeURIComponent(stream.password), stream.searchParams.get('sslmode')]).toEqual(['atlas-euw1-db-db.rds', '5432', '/atlas', 'atlas_cache_stream', 'str3am:p@ss/%', 'verify-full']);
  });

  it('points each region at the others as peers and mounts a writable ATLAS_HOME', () => {
    for (const region of topology.regions) {
      const td = h.one('aws:ecs/taskDefinition:TaskDefinition', `atlas-${region.code}-app`);
      const [container] = JSON.parse(td.inputs.containerDefinitions);
      const env = Object.fromEntries(container.environment.map((e: { name: string; value: string }) => [e.name, e.value]));
      expect(env.ATLAS_REGION).toBe(region.id);
      expect(Object.keys(JSON.parse(env.ATLAS_PEER_URLS)).sort()).toEqual(topology.regions.filter((r) => r.id !== region.id).map((r) => r.id).sort());
      expect(container.mountPoints.find((m: { containerPath: string }) => m.containerPath === env.ATLAS_HOME)).toMatchObject({ readOnly: false });
      expect(td.inputs.volumes.map((v: { name: string }) => v.name)).toContain('atlas-home');
    }
  });
});

describe('least-privilege IAM', () => {
  it('no inline policy allows a "*" action or a service wildcard on "*"', () => {
    const policies = h.ofType(T.rolePolicy);
    expect(policies.length).toBeGreaterThanOrEqual(topology.regions.length * 2 + 1);
    for (const p of policies) {
      for (const s of JSON.parse(p.inputs.policy).Statement) {
        const actions: string[] = [s.Action].flat();
        const resources: string[] = [s.Resource].flat();
        expect(actions, `${p.name}/${s.Sid}`).not.toContain('*');
        if (resources.includes('*')) expect(actions.every((a) => !a.endsWith(':*')), `${p.name}/${s.Sid}`).toBe(true);
      }
    }
  });

  it('scopes the API task role to its own region documents bucket', () => {
    const task = h.one(T.rolePolicy, 'atlas-euw1-app-task-policy');
    const docs = JSON.parse(task.inputs.policy).Statement.find((s: { Sid: string }) => s.Sid === 'Documents');
    expect(docs.Resource).toMatch(/atlas-euw1-docs-bucket\/\*$/);
  });

  it('lets every API task role delete and list the versions of its own bucket\'s objects (erasure leaves no version), and no other bucket\'s', () => {
    for (const region of topology.regions) {
      const statements = JSON.parse(h.one(T.rolePolicy, `atlas-${region.code}-app-task-policy`).inputs.policy).Statement as Array<{ Sid: string; Action: string[]; Resource: string }>;
      const bucketArn = `arn:aws:mock:${region.id}:123456789012:atlas-${region.code}-docs-bucket`;
      const objects = statements.find((s) => s.Sid === 'Documents')!;
      expect(objects.Action).toEqual(expect.arrayContaining(['s3:DeleteObject', 's3:DeleteObjectVersion']));
      expect(objects.Resource).toBe(`${bucketArn}/*`);
      const list = statements.find((s) => s.Sid === 'DocumentsList')!;
      expect(list.Action).toEqual(expect.arrayContaining(['s3:ListBucket', 's3:ListBucketVersions']));
      expect(list.Resource).toBe(bucketArn);
      // Nothing else in the policy grants version access anywhere.
      const versionGrants = statements.filter((s) => [s.Action].flat().some((a) => /Version/.test(a)));
      expect(versionGrants.map((s) => s.Sid).sort()).toEqual(['Documents', 'DocumentsList']);
    }
  });
});

describe('documents bucket versions', () => {
  it('expires noncurrent versions and orphaned delete markers of every (versioned) documents bucket after a bounded number of days', async () => {
    const { NONCURRENT_VERSION_DAYS } = await import('../components/documents.component');
    expect(NONCURRENT_VERSION_DAYS).toBeGreaterThan(0);
    // Well inside GDPR's one-month deadline for an erasure.
    expect(NONCURRENT_VERSION_DAYS).toBeLessThanOrEqual(30);
    const lifecycles = h.ofType('aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration');
    const buckets = h.ofType(T.bucket);
    expect(lifecycles).toHaveLength(buckets.length);
    for (const bucket of buckets) {
      const versioning = h.one('aws:s3/bucketVersioning:BucketVersioning', `${bucket.name.replace(/-bucket$/, '')}-versions`);
      expect(versioning.inputs).toMatchObject({ bucket: `${bucket.name}-id`, versioningConfiguration: { status: 'Enabled' } });
      const lifecycle = lifecycles.find((l) => l.inputs.bucket === `${bucket.name}-id`);
      expect(lifecycle, bucket.name).toBeDefined();
      expect(lifecycle!.inputs.region).toBe(bucket.inputs.region);
      expect(lifecycle!.inputs.rules).toHaveLength(1);
      const [rule] = lifecycle!.inputs.rules;
      expect(rule).toMatchObject({ status: 'Enabled', noncurrentVersionExpiration: { noncurrentDays: NONCURRENT_VERSION_DAYS }, expiration: { expiredObjectDeleteMarker: true } });
      // The whole bucket: no prefix, tag or size narrows the rule.
      expect(rule.prefix).toBeUndefined();
      expect(rule.filter ?? {}).toEqual({});
    }
  });
});

describe('residency (rule R1)', () => {
  it('stores every bucket encrypted with KMS, private, in a region of its data jurisdiction', () => {
    const buckets = h.ofType(T.bucket);
    expect(buckets).toHaveLength(topology.regions.length);
    for (const b of buckets) expect(jurisdictionOf(b.inputs.region)).toBe(b.inputs.tags.jurisdiction);
    expect(buckets.filter((b) => b.inputs.tags.jurisdiction === 'EU').map((b) => b.inputs.region).sort()).toEqual(['eu-central-1', 'eu-west-1']);
    for (const sse of h.ofType(T.sse)) expect(sse.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe('aws:kms');
    for (const pab of h.ofType(T.pab)) expect(pab.inputs).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
  });

  it('keeps backup vaults KMS-encrypted in their own region and copies only within the jurisdiction', () => {
    for (const v of h.ofType(T.vault)) expect(v.inputs.kmsKeyArn).toMatch(/^arn:/);
    const copies = h.ofType(T.plan).flatMap((p) => p.inputs.rules[0].copyActions.map((c: { destinationVaultArn: string }) => [p.inputs.region, regionOfArn(c.destinationVaultArn)]));
    expect(copies.sort()).toEqual([
      ['eu-central-1', 'eu-west-1'],
      ['eu-west-1', 'eu-central-1'],
    ]);
    for (const [from, to] of copies) expect(jurisdictionOf(to!)).toBe(jurisdictionOf(from!));
  });

  it('never enables RDS cross-region automated backup replication', () => {
    expect(h.ofType('aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication')).toEqual([]);
  });
});

describe('route53', () => {
  it('renders one geolocation record per country plus the default, and 30 s health checks per region', () => {
    const records = h.ofType('aws:route53/record:Record').filter((r) => r.inputs.geolocationRoutingPolicies);
    expect(records).toHaveLength(Object.keys(topology.countryRegions).length + 1);
    const de = records.find((r) => r.inputs.setIdentifier === 'geo-DE')!;
    expect(de.inputs.aliases[0]).toMatchObject({ name: 'euw1.origin.atlas.test', evaluateTargetHealth: true });
    const checks = h.ofType('aws:route53/healthCheck:HealthCheck');
    expect(checks.map((c) => [c.inputs.fqdn, c.inputs.requestInterval, c.inputs.failureThreshold, c.inputs.type])).toEqual(topology.regions.map((r) => [`${r.code}.origin.atlas.test`, 30, 3, 'HTTPS']));
  });
});

describe('cloudflare', () => {
  it('sets TLS 1.3 minimum, strict origin TLS and HTTPS only', () => {
    const settings = Object.fromEntries(h.ofType('cloudflare:index/zoneSetting:ZoneSetting').map((s) => [s.inputs.settingId, s.inputs.value]));
    expect(settings).toMatchObject({ min_tls_version: '1.3', ssl: 'strict', always_use_https: 'on' });
  });

  it('geo-steers every country to its home pool first, monitor at 30 s', () => {
    const lb = h.one('cloudflare:index/loadBalancer:LoadBalancer');
    expect(lb.inputs.steeringPolicy).toBe('geo');
    expect(Object.keys(lb.inputs.countryPools).sort()).toEqual(Object.keys(topology.countryRegions).sort());
    expect(lb.inputs.countryPools.SG[0]).toBe('atlas-edge-pool-ap-southeast-1-id');
    expect(h.one('cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor').inputs).toMatchObject({ interval: 30, consecutiveDown: 3, consecutiveUp: 2, allowInsecure: false });
  });

  it('never caches the API (regional personal data must not land in edge caches) and rate-limits it', () => {
    const cache = h.one('cloudflare:index/ruleset:Ruleset', 'cache');
    const api = cache.inputs.rules.find((r: { expression: string }) => r.expression.includes('/api/'));
    expect(api.actionParameters.cache).toBe(false);
    const limit = h.one('cloudflare:index/ruleset:Ruleset', 'ratelimit');
    expect(limit.inputs.phase).toBe('http_ratelimit');
    expect(limit.inputs.rules[0].ratelimit).toMatchObject({ period: 10, requestsPerPeriod: 100 });
  });
});

describe('monitoring and disaster-recovery', () => {
  it('alarms on replication lag and per-link cross-region latency, to encrypted SNS with e-mail and PagerDuty', () => {
    const alarms = h.ofType('aws:cloudwatch/metricAlarm:MetricAlarm');
    const latencyUse1 = alarms.filter((a) => a.inputs.metricName === 'CrossRegionLatencyMs' && a.inputs.dimensions.From === 'us-east-1');
    expect(latencyUse1.map((a) => [a.inputs.dimensions.To, a.inputs.threshold]).sort()).toEqual([['ap-southeast-1', 321], ['eu-central-1', 200], ['eu-west-1', 200]]);
    expect(alarms.filter((a) => a.inputs.metricName === 'OldestReplicationSlotLag')).toHaveLength(topology.regions.length);
    for (const t of h.ofType('aws:sns/topic:Topic')) expect(t.inputs.kmsMasterKeyId).toMatch(/^arn:/);
    const protocols = h.ofType('aws:sns/topicSubscription:TopicSubscription').map((s) => s.inputs.protocol);
    expect(protocols.filter((p) => p === 'https')).toHaveLength(topology.regions.length);
  });

  it('deploys the orchestrator bundle as a scheduled, single-concurrency Lambda with encrypted DynamoDB state', async () => {
    const fn = h.one('aws:lambda/function:Function');
    expect(fn.inputs).toMatchObject({ handler: 'index.handler', reservedConcurrentExecutions: 1, region: 'eu-west-1' });
    // The bundle path is the stack's atlas:orchestratorBundle value, built before `pulumi up`.
    expect(await fn.inputs.code.path).toBe('dist/orchestrator');
    expect(JSON.parse(fn.inputs.environment.variables.ATLAS_HEALTH)).toEqual({ intervalSeconds: 30, downAfter: 3, upAfter: 2 });
    // What infra/lambda/orchestrator.handler.ts reads: one RDS instance to fence per region.
    const instances = JSON.parse(fn.inputs.environment.variables.ATLAS_DB_INSTANCES);
    expect(Object.keys(instances).sort()).toEqual(topology.regions.map((r) => r.id).sort());
    for (const [region, arn] of Object.entries(instances)) expect(arn).toMatch(new RegExp(`:atlas-${topology.regions.find((r) => r.id === region)!.code}-db-db$`));
    expect(h.one('aws:dynamodb/table:Table').inputs).toMatchObject({ serverSideEncryption: { enabled: true }, pointInTimeRecovery: { enabled: true } });
    expect(h.one('aws:cloudwatch/eventRule:EventRule').inputs.scheduleExpression).toBe('rate(1 minute)');
  });

  it('rotates every regional KMS key', () => {
    const keys = h.ofType('aws:kms/key:Key');
    expect(keys).toHaveLength(topology.regions.length);
    for (const k of keys) expect(k.inputs.enableKeyRotation).toBe(true);
  });
});
