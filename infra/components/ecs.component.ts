import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { serviceTrustPolicy } from '../planners/iam.planner';
import { API_CONTAINER_NAME, API_SERVICE_NAME, clusterName, repositoryName } from '../planners/names';
import { apiContainerEnv, type ContainerEnv, secretKeyRef } from './api-env';
import { type RegionContext, leastPrivilegePolicy, regionTags, shortName } from './common';

export interface EcsArgs {
  readonly ctx: RegionContext;
  readonly vpcId: pulumi.Input<string>;
  readonly publicSubnetIds: pulumi.Input<string>[];
  readonly privateSubnetIds: pulumi.Input<string>[];
  readonly appSecurityGroupId: pulumi.Input<string>;
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly imageTag: string;
  readonly cpu: number;
  readonly memory: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly healthPath: string;
  /** Route 53 zone and domain: the ALB certificate is `*.<domain>`, DNS-validated there. */
  readonly zoneId: pulumi.Input<string>;
  readonly domain: string;
  readonly documentsBucketArn: pulumi.Input<string>;
  readonly documentsBucketName: pulumi.Input<string>;
  /** RDS-managed master secret: JSON with `username` and `password`. */
  readonly dbSecretArn: pulumi.Input<string>;
  readonly dbAddress: pulumi.Input<string>;
  readonly dbPort: pulumi.Input<number>;
  readonly dbName: string;
  /** Secret whose whole value is the Redis AUTH token. */
  readonly redisSecretArn: pulumi.Input<string>;
  readonly redisEndpoint: pulumi.Input<string>;
  /** Ed25519 public JWK (JSON) verifying tokens; not secret. */
  readonly authPublicKey: string;
  /** Base URL of every other region's API (ATLAS_PEER_URLS). */
  readonly peerUrls: Readonly<Record<string, string>>;
  /** Key material stored in this region's `api-keys` secret, read by the tasks at start. */
  readonly apiKeys: {
    readonly documentKey: pulumi.Input<string>;
    readonly blindIndexKey: pulumi.Input<string>;
    readonly auditSigningKey: pulumi.Input<string>;
    /** Password of atlas_app; the migration task sets it (infra/docker/migrate.ts). */
    readonly dbAppPassword: pulumi.Input<string>;
    /** Password of atlas_cache_stream (the cache-invalidation stream); the migration task sets it too. */
    readonly dbCacheStreamPassword: pulumi.Input<string>;
  };
}

/** The application role the migrations create (packages/db/migrations/001.do.foundation.sql). */
export const DB_APP_USER = 'atlas_app';

/** Writable directory of the API (the erasure ledger's file copy): an ephemeral task volume. Document bodies go to the bucket. */
export const ATLAS_HOME_PATH = '/var/lib/atlas';
/** RDS CA bundle baked into the image (infra/docker/api.Dockerfile), for sslmode=verify-full. */
export const RDS_CA_BUNDLE_PATH = '/app/certs/rds-global-bundle.pem';

/**
 * The API container's environment, following packages/api/src/config-keys.ts (checked by
 * apiContainerEnv): plain settings as values, credentials and keys by Secrets Manager reference.
 */
export function apiTaskEnvironment(args: EcsArgs, apiKeysSecretArn: pulumi.Input<string>): ContainerEnv {
  return apiContainerEnv({
    ATLAS_REGION: { value: args.ctx.region.id },
    ATLAS_HOME: { value: ATLAS_HOME_PATH },
    // Document bodies (sealed by the API) in the region's bucket: they outlive a task and are
    // shared by all of them, unlike ATLAS_HOME. The task role may touch only its objects.
    ATLAS_DOCUMENTS_BUCKET: { value: args.documentsBucketName },
    ATLAS_HOST: { value: '0.0.0.0' },
    ATLAS_PORT: { value: String(CONTAINER_PORT) },
    ATLAS_DB_HOST: { value: args.dbAddress },
    ATLAS_DB_PORT: { value: pulumi.output(args.dbPort).apply(String) },
    ATLAS_DB_NAME: { value: args.dbName },
    // The API runs as atlas_app (created by the migrations; no table ownership, no BYPASSRLS);
    // the master user (RDS-managed secret) is the admin URL: migrations and replication status.
    ATLAS_DB_USER: { value: DB_APP_USER },
    ATLAS_DB_PASSWORD: { valueFrom: secretKeyRef(apiKeysSecretArn, 'ATLAS_DB_PASSWORD') },
    ATLAS_ADMIN_DB_USER: { valueFrom: secretKeyRef(args.dbSecretArn, 'username') },
    ATLAS_ADMIN_DB_PASSWORD: { valueFrom: secretKeyRef(args.dbSecretArn, 'password') },
    // Each task's cache-invalidation stream (packages/api/src/lib/change-listener.ts): a
    // replication connection to the same server as atlas_cache_stream (ATLAS_CACHE_STREAM_USER's
    // default). Without it the API caches no global row. The migration task sets the password.
    ATLAS_CACHE_STREAM_PASSWORD: { valueFrom: secretKeyRef(apiKeysSecretArn, 'ATLAS_CACHE_STREAM_PASSWORD') },
    // The parameter group sets rds.force_ssl; verify the server against the RDS CA.
    ATLAS_DB_SSLMODE: { value: 'verify-full' },
    ATLAS_DB_SSLROOTCERT: { value: RDS_CA_BUNDLE_PATH },
    REDIS_URL: { value: pulumi.interpolate`rediss://${args.redisEndpoint}:6379` },
    REDIS_PASSWORD: { valueFrom: args.redisSecretArn },
    ATLAS_DOCUMENT_KEY: { valueFrom: secretKeyRef(apiKeysSecretArn, 'ATLAS_DOCUMENT_KEY') },
    ATLAS_BLIND_INDEX_KEY: { valueFrom: secretKeyRef(apiKeysSecretArn, 'ATLAS_BLIND_INDEX_KEY') },
    ATLAS_AUDIT_SIGNING_KEY: { valueFrom: secretKeyRef(apiKeysSecretArn, 'ATLAS_AUDIT_SIGNING_KEY') },
    ATLAS_AUTH_PUBLIC_KEY: { value: args.authPublicKey },
    ATLAS_PEER_URLS: { value: JSON.stringify(args.peerUrls) },
    LOG_LEVEL: { value: 'info' },
  });
}

/** The only ALB policy that negotiates TLS 1.3 alone (no 1.2 fallback). */
export const ALB_TLS13_POLICY = 'ELBSecurityPolicy-TLS13-1-3-2021-06';
const CONTAINER_PORT = 8080;

/** Seed module `ecs`: Fargate service behind an HTTPS ALB, autoscaling 2–10 on CPU and memory. */
export class EcsComponent extends pulumi.ComponentResource {
  readonly repositoryUrl: pulumi.Output<string>;
  readonly clusterName: pulumi.Output<string>;
  readonly serviceName: pulumi.Output<string>;
  readonly albDnsName: pulumi.Output<string>;
  readonly albZoneId: pulumi.Output<string>;
  readonly albArnSuffix: pulumi.Output<string>;

  constructor(name: string, args: EcsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Ecs', name, {}, opts);
    const { ctx } = args;
    const tags = regionTags(ctx, 'ecs');
    const child = { parent: this };

    const repo = new aws.ecr.Repository(`${name}-repo`, {
      name: repositoryName(ctx.stack),
      // Immutable tags: a deployed tag always names the same image, so rollback is exact.
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfigurations: [{ encryptionType: 'KMS', kmsKey: args.kmsKeyArn }],
      tags,
    }, child);
    const cluster = new aws.ecs.Cluster(`${name}-cluster`, { name: clusterName(ctx.stack, ctx.region.code), settings: [{ name: 'containerInsights', value: 'enabled' }], tags }, child);
    const logs = new aws.cloudwatch.LogGroup(`${name}-logs`, { name: `/atlas/${ctx.stack}/api`, retentionInDays: 30, tags }, child);

    const albSg = new aws.ec2.SecurityGroup(`${name}-alb-sg`, {
      vpcId: args.vpcId,
      description: 'Atlas ALB: HTTPS from the internet (Cloudflare and direct DNS)',
      ingress: [
        { protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: ['0.0.0.0/0'], description: 'HTTPS' },
        { protocol: 'tcp', fromPort: 80, toPort: 80, cidrBlocks: ['0.0.0.0/0'], description: 'redirected to HTTPS' },
      ],
      egress: [{ protocol: 'tcp', fromPort: CONTAINER_PORT, toPort: CONTAINER_PORT, cidrBlocks: ['0.0.0.0/0'], description: 'to API tasks' }],
      tags,
    }, child);
    new aws.vpc.SecurityGroupIngressRule(`${name}-app-from-alb`, { securityGroupId: args.appSecurityGroupId, referencedSecurityGroupId: albSg.id, ipProtocol: 'tcp', fromPort: CONTAINER_PORT, toPort: CONTAINER_PORT, description: 'ALB to API tasks' }, child);

    const alb = new aws.lb.LoadBalancer(`${name}-alb`, { name: shortName(ctx, 'alb'), loadBalancerType: 'application', internal: false, securityGroups: [albSg.id], subnets: args.publicSubnetIds, dropInvalidHeaderFields: true, tags }, child);
    const targets = new aws.lb.TargetGroup(`${name}-tg`, {
      name: shortName(ctx, 'tg'),
      port: CONTAINER_PORT,
      protocol: 'HTTP',
      targetType: 'ip',
      vpcId: args.vpcId,
      healthCheck: { path: args.healthPath, matcher: '200', interval: 15, healthyThreshold: 2, unhealthyThreshold: 3 },
      deregistrationDelay: 30,
      tags,
    }, child);

    const cert = new aws.acm.Certificate(`${name}-cert`, { domainName: `*.${args.domain}`, validationMethod: 'DNS', tags }, child);
    const validation = cert.domainValidationOptions.apply((o) => o[0]!);
    const validationRecord = new aws.route53.Record(`${name}-cert-validation`, { zoneId: args.zoneId, name: validation.resourceRecordName, type: validation.resourceRecordType, records: [validation.resourceRecordValue], ttl: 300, allowOverwrite: true }, child);
    const validated = new aws.acm.CertificateValidation(`${name}-cert-ok`, { certificateArn: cert.arn, validationRecordFqdns: [validationRecord.fqdn] }, child);

    new aws.lb.Listener(`${name}-https`, {
      loadBalancerArn: alb.arn,
      port: 443,
      protocol: 'HTTPS',
      sslPolicy: ALB_TLS13_POLICY,
      certificateArn: validated.certificateArn,
      defaultActions: [{ type: 'forward', targetGroupArn: targets.arn }],
      tags,
    }, child);
    new aws.lb.Listener(`${name}-http`, { loadBalancerArn: alb.arn, port: 80, protocol: 'HTTP', defaultActions: [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }], tags }, child);

    // Key material for the API, one secret per region; the value comes from the stack's secrets.
    const apiKeys = new aws.secretsmanager.Secret(`${name}-api-keys`, { name: shortName(ctx, 'api-keys'), kmsKeyId: args.kmsKeyArn, tags }, child);
    new aws.secretsmanager.SecretVersion(`${name}-api-keys-v`, {
      secretId: apiKeys.id,
      secretString: pulumi.secret(pulumi.jsonStringify({
        ATLAS_DOCUMENT_KEY: args.apiKeys.documentKey,
        ATLAS_BLIND_INDEX_KEY: args.apiKeys.blindIndexKey,
        ATLAS_AUDIT_SIGNING_KEY: args.apiKeys.auditSigningKey,
        ATLAS_DB_PASSWORD: args.apiKeys.dbAppPassword,
        ATLAS_CACHE_STREAM_PASSWORD: args.apiKeys.dbCacheStreamPassword,
      })),
    }, child);
    const env = apiTaskEnvironment(args, apiKeys.arn);

    const { executionRole, taskRole } = this.createRoles(name, args, repo, logs, apiKeys.arn, tags);

    const taskDef = new aws.ecs.TaskDefinition(`${name}-task`, {
      family: shortName(ctx, 'api'),
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(args.cpu),
      memory: String(args.memory),
      runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
      executionRoleArn: executionRole.arn,
      taskRoleArn: taskRole.arn,
      // Fargate task storage; the image pre-creates both paths owned by `node`, so ECS copies
      // that ownership onto the volumes while the root filesystem stays read-only.
      volumes: [{ name: 'atlas-home' }, { name: 'tmp' }],
      containerDefinitions: pulumi.jsonStringify([
        {
          name: API_CONTAINER_NAME,
          image: pulumi.interpolate`${repo.repositoryUrl}:${args.imageTag}`,
          essential: true,
          readonlyRootFilesystem: true,
          user: 'node',
          portMappings: [{ containerPort: CONTAINER_PORT, protocol: 'tcp' }],
          ...env,
          mountPoints: [
            { sourceVolume: 'atlas-home', containerPath: ATLAS_HOME_PATH, readOnly: false },
            { sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false },
          ],
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logs.name, 'awslogs-region': ctx.region.id, 'awslogs-stream-prefix': 'api' } },
        },
      ]),
      tags,
    }, child);

    const service = new aws.ecs.Service(`${name}-service`, {
      name: API_SERVICE_NAME,
      cluster: cluster.arn,
      taskDefinition: taskDef.arn,
      launchType: 'FARGATE',
      desiredCount: args.minTasks,
      networkConfiguration: { subnets: args.privateSubnetIds, securityGroups: [args.appSecurityGroupId], assignPublicIp: false },
      loadBalancers: [{ targetGroupArn: targets.arn, containerName: API_CONTAINER_NAME, containerPort: CONTAINER_PORT }],
      // ECS itself rolls back a deployment whose tasks never turn healthy.
      deploymentCircuitBreaker: { enable: true, rollback: true },
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      healthCheckGracePeriodSeconds: 60,
      propagateTags: 'SERVICE',
      tags,
    }, { ...child, ignoreChanges: ['desiredCount'] });

    const scaling = new aws.appautoscaling.Target(`${name}-scaling`, {
      serviceNamespace: 'ecs',
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: pulumi.interpolate`service/${cluster.name}/${service.name}`,
      minCapacity: args.minTasks,
      maxCapacity: args.maxTasks,
    }, child);
    for (const [metric, target] of [['ECSServiceAverageCPUUtilization', 70], ['ECSServiceAverageMemoryUtilization', 80]] as const) {
      new aws.appautoscaling.Policy(`${name}-scale-${metric.includes('CPU') ? 'cpu' : 'memory'}`, {
        policyType: 'TargetTrackingScaling',
        serviceNamespace: scaling.serviceNamespace,
        scalableDimension: scaling.scalableDimension,
        resourceId: scaling.resourceId,
        targetTrackingScalingPolicyConfiguration: { predefinedMetricSpecification: { predefinedMetricType: metric }, targetValue: target, scaleInCooldown: 300, scaleOutCooldown: 60 },
      }, child);
    }

    this.repositoryUrl = repo.repositoryUrl;
    this.clusterName = cluster.name;
    this.serviceName = service.name;
    this.albDnsName = alb.dnsName;
    this.albZoneId = alb.zoneId;
    this.albArnSuffix = alb.arnSuffix;
    this.registerOutputs({ albDnsName: this.albDnsName, repositoryUrl: this.repositoryUrl });
  }

  /** Inline policies only, so every permission is visible (and tested) in this file. */
  private createRoles(name: string, args: EcsArgs, repo: aws.ecr.Repository, logs: aws.cloudwatch.LogGroup, apiKeysSecretArn: pulumi.Input<string>, tags: Record<string, string>) {
    const child = { parent: this };
    const trust = serviceTrustPolicy('ecs-tasks.amazonaws.com');
    const executionRole = new aws.iam.Role(`${name}-exec-role`, { assumeRolePolicy: trust, tags }, child);
    new aws.iam.RolePolicy(`${name}-exec-policy`, {
      role: executionRole.id,
      policy: leastPrivilegePolicy(`${name}-exec-policy`, {
        Version: '2012-10-17',
        Statement: [
          // GetAuthorizationToken has no resource-level permissions; AWS requires "*".
          { Sid: 'EcrLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
          { Sid: 'EcrPull', Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], Resource: repo.arn },
          { Sid: 'Logs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: pulumi.interpolate`${logs.arn}:*` },
          { Sid: 'Secrets', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [args.dbSecretArn, args.redisSecretArn, apiKeysSecretArn] },
          { Sid: 'DecryptSecrets', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: args.kmsKeyArn },
        ],
      }),
    }, child);

    const taskRole = new aws.iam.Role(`${name}-task-role`, { assumeRolePolicy: trust, tags }, child);
    new aws.iam.RolePolicy(`${name}-task-policy`, {
      role: taskRole.id,
      policy: leastPrivilegePolicy(`${name}-task-policy`, {
        Version: '2012-10-17',
        Statement: [
          // DeleteObjectVersion and ListBucketVersions: removing a body deletes every version of it
          // (body-store.ts), so an erased document cannot be restored from the versioned bucket.
          { Sid: 'Documents', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion'], Resource: pulumi.interpolate`${args.documentsBucketArn}/*` },
          { Sid: 'DocumentsList', Effect: 'Allow', Action: ['s3:ListBucket', 's3:ListBucketVersions'], Resource: args.documentsBucketArn },
          { Sid: 'DocumentKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: args.kmsKeyArn },
          // PutMetricData has no resource-level permissions; the namespace condition scopes it.
          { Sid: 'Metrics', Effect: 'Allow', Action: ['cloudwatch:PutMetricData'], Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Atlas' } } },
        ],
      }),
    }, child);
    return { executionRole, taskRole };
  }
}
