import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadTopology } from '@atlas/core';
import { buildArgs, DockerImageBuilder, DockerMissingError, EcrRegistry, EcsServices, HttpHealthProbe, LambdaOrchestrator, type AwsTarget } from '../deploy';
import { AwsFault, startAwsJsonServer } from './support/aws-json-server';

/**
 * The SDK adapters of `atlas deploy` against a local server speaking the AWS JSON protocol,
 * with static fake credentials: requests are really built, signed, sent and parsed.
 */
const topology = loadTopology();
const REGION = 'eu-west-1';
const CLUSTER = 'atlas-prod-euw1-cluster';
const OLD_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/atlas-production/api:0.9.0';
const NEW_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/atlas-production/api:1.0.0';

interface Cloud {
  taskDefs: Map<string, Record<string, any>>;
  service: Record<string, any>;
  tasks: Map<string, Record<string, any>>;
  /** Answers of the orchestrator function, call by call ('throttle' = 429). */
  lambda: ('throttle' | 'healthy' | 'suspect' | 'crash')[];
  /** What DescribeServices reports for the new primary deployment, call by call. */
  rollout: { state: string; reason?: string }[];
  migrationExit: number;
  images: Set<string>;
}

let cloud: Cloud;
let server: Awaited<ReturnType<typeof startAwsJsonServer>>;

function freshCloud(): Cloud {
  const first = {
    family: 'atlas-prod-euw1-api',
    taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/atlas-prod-euw1-api:1',
    revision: 1,
    networkMode: 'awsvpc',
    cpu: '2048',
    memory: '4096',
    requiresCompatibilities: ['FARGATE'],
    executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
    taskRoleArn: 'arn:aws:iam::123456789012:role/task',
    runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
    volumes: [{ name: 'atlas-home' }, { name: 'tmp' }],
    containerDefinitions: [{
      name: 'api',
      image: OLD_IMAGE,
      environment: [{ name: 'ATLAS_REGION', value: REGION }],
      secrets: [{ name: 'ATLAS_DB_PASSWORD', valueFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db:password::' }],
    }],
  };
  return {
    taskDefs: new Map([[first.taskDefinitionArn, first]]),
    service: {
      serviceName: 'atlas-api',
      status: 'ACTIVE',
      taskDefinition: first.taskDefinitionArn,
      desiredCount: 2,
      runningCount: 2,
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-app'], assignPublicIp: 'DISABLED' } },
      deployments: [{ id: 'd-1', status: 'PRIMARY', taskDefinition: first.taskDefinitionArn, rolloutState: 'COMPLETED' }],
    },
    tasks: new Map(),
    lambda: [],
    rollout: [],
    migrationExit: 0,
    images: new Set(['0.9.0']),
  };
}

beforeAll(async () => {
  server = await startAwsJsonServer({
    DescribeServices: (b) => {
      if (b.cluster !== CLUSTER || !b.services.includes('atlas-api')) return { services: [], failures: [{ reason: 'MISSING' }] };
      // Rollout progress is reported only for a deployment that UpdateService started.
      const next = cloud.service.deployments[0].id === 'd-2' ? cloud.rollout.shift() : undefined;
      if (next) {
        cloud.service.deployments[0] = { ...cloud.service.deployments[0], rolloutState: next.state, rolloutStateReason: next.reason };
        cloud.service.runningCount = next.state === 'COMPLETED' ? cloud.service.desiredCount : 1;
      }
      return { services: [cloud.service] };
    },
    DescribeTaskDefinition: (b) => {
      const def = cloud.taskDefs.get(b.taskDefinition);
      if (!def) throw new AwsFault('ClientException', 'Unable to describe task definition.');
      return { taskDefinition: def, tags: [{ key: 'project', value: 'atlas' }] };
    },
    RegisterTaskDefinition: (b) => {
      const revision = cloud.taskDefs.size + 1;
      const def: Record<string, any> = { ...b, revision, taskDefinitionArn: `arn:aws:ecs:eu-west-1:123456789012:task-definition/${b.family}:${revision}` };
      delete def.tags;
      cloud.taskDefs.set(def.taskDefinitionArn, def);
      return { taskDefinition: def };
    },
    UpdateService: (b) => {
      if (!cloud.taskDefs.has(b.taskDefinition)) throw new AwsFault('InvalidParameterException', 'unknown task definition');
      cloud.service.taskDefinition = b.taskDefinition;
      cloud.service.deployments = [{ id: 'd-2', status: 'PRIMARY', taskDefinition: b.taskDefinition, rolloutState: 'IN_PROGRESS' }];
      return { service: cloud.service };
    },
    RunTask: (b) => {
      const taskArn = `arn:aws:ecs:eu-west-1:123456789012:task/${CLUSTER}/t${cloud.tasks.size + 1}`;
      cloud.tasks.set(taskArn, { taskArn, request: b, polls: 0 });
      return { tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] };
    },
    DescribeTasks: (b) => {
      const t = cloud.tasks.get(b.tasks[0])!;
      t.polls++;
      const stopped = t.polls >= 2;
      return { tasks: [{ taskArn: t.taskArn, lastStatus: stopped ? 'STOPPED' : 'RUNNING', ...(stopped ? { stoppedReason: 'Essential container in task exited', containers: [{ name: 'api', exitCode: cloud.migrationExit }] } : {}) }] };
    },
    DescribeRepositories: (b) => {
      if (b.repositoryNames[0] !== 'atlas-production/api') throw new AwsFault('RepositoryNotFoundException', `The repository with name '${b.repositoryNames[0]}' does not exist`);
      return { repositories: [{ repositoryName: 'atlas-production/api', repositoryUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/atlas-production/api' }] };
    },
    GetAuthorizationToken: () => ({ authorizationData: [{ authorizationToken: Buffer.from('AWS:secret:with:colons').toString('base64'), proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com', expiresAt: 1_900_000_000 }] }),
    'POST /2015-03-31/functions/atlas-prod-use1-failover/invocations': () => {
      const next = cloud.lambda.shift() ?? 'healthy';
      if (next === 'throttle') throw new AwsFault('TooManyRequestsException', 'Rate Exceeded.', 429);
      if (next === 'crash') return { __raw: JSON.stringify({ errorMessage: 'ATLAS_REGIONS is not valid JSON', errorType: 'Error' }), __headers: { 'x-amz-function-error': 'Unhandled' } };
      return { __raw: JSON.stringify({ regions: [{ region: 'eu-west-1', phase: next, probes: [true] }, { region: 'us-east-1', phase: 'healthy', probes: [true] }] }) };
    },
    DescribeImages: (b) => {
      const tag = b.imageIds[0].imageTag;
      if (!cloud.images.has(tag)) throw new AwsFault('ImageNotFoundException', `The image with imageId {imageTag:'${tag}'} does not exist`);
      return { imageDetails: [{ imageTags: [tag], imageDigest: 'sha256:abc' }] };
    },
  });
});

afterAll(async () => server.close());
beforeEach(() => {
  cloud = freshCloud();
  server.calls.length = 0;
});

const target = (extra: Partial<AwsTarget> = {}): AwsTarget => ({
  stack: 'production',
  topology,
  domain: 'origin.atlas.test',
  healthPath: '/readyz',
  clientConfig: () => ({ endpoint: server.endpoint, credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' }, maxAttempts: 1 }),
  pollIntervalMs: 1,
  pollAttempts: 5,
  docker: '/nonexistent/docker',
  ...extra,
});

describe('EcsServices over the ECS JSON API', () => {
  it('reads the running image from the service task definition, signed for the region', async () => {
    expect(await new EcsServices(target()).currentImage(REGION)).toBe(OLD_IMAGE);
    expect(server.calls.map((c) => c.operation)).toEqual(['DescribeServices', 'DescribeTaskDefinition']);
    expect(server.calls[0]!.service).toBe('AmazonEC2ContainerServiceV20141113');
    expect(server.calls[0]!.scope).toMatch(/^AKIDLOCAL\/\d{8}\/eu-west-1\/ecs$/);
    expect(server.calls[0]!.body).toEqual({ cluster: CLUSTER, services: ['atlas-api'] });
  });

  it('deploys a revision that changes only the image, then waits for the rollout to complete', async () => {
    cloud.rollout = [{ state: 'IN_PROGRESS' }, { state: 'IN_PROGRESS' }, { state: 'COMPLETED' }];
    await new EcsServices(target()).deploy(REGION, NEW_IMAGE);
    const registered = server.calls.find((c) => c.operation === 'RegisterTaskDefinition')!.body;
    const original = freshCloud().taskDefs.values().next().value!;
    expect(registered.containerDefinitions).toEqual([{ ...original.containerDefinitions[0], image: NEW_IMAGE }]);
    expect(registered).toMatchObject({ family: original.family, cpu: '2048', memory: '4096', volumes: original.volumes, executionRoleArn: original.executionRoleArn, tags: [{ key: 'project', value: 'atlas' }] });
    const update = server.calls.find((c) => c.operation === 'UpdateService')!.body;
    expect(update).toEqual({ cluster: CLUSTER, service: 'atlas-api', taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/atlas-prod-euw1-api:2' });
    expect(server.calls.filter((c) => c.operation === 'DescribeServices').length).toBeGreaterThanOrEqual(4);
    expect(await new EcsServices(target()).currentImage(REGION)).toBe(NEW_IMAGE);
  });

  it('fails a deploy whose rollout ECS marks FAILED, with the reason', async () => {
    cloud.rollout = [{ state: 'IN_PROGRESS' }, { state: 'FAILED', reason: 'ECS deployment circuit breaker: tasks failed to start.' }];
    await expect(new EcsServices(target()).deploy(REGION, NEW_IMAGE)).rejects.toThrow(/rollout failed: ECS deployment circuit breaker/);
  });

  it('gives up on a rollout that never completes within the attempt budget', async () => {
    cloud.rollout = Array.from({ length: 10 }, () => ({ state: 'IN_PROGRESS' }));
    await expect(new EcsServices(target({ pollAttempts: 3 })).deploy(REGION, NEW_IMAGE)).rejects.toThrow(/not stable after 3 checks/);
  });

  it('runs migrations as a one-off task of the new revision in the service network, and waits for exit 0', async () => {
    const ecs = new EcsServices(target());
    const result = await ecs.migrate(REGION, NEW_IMAGE);
    expect(result.detail).toMatch(/exited 0/);
    const run = server.calls.find((c) => c.operation === 'RunTask')!.body;
    expect(run).toMatchObject({
      cluster: CLUSTER,
      launchType: 'FARGATE',
      taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/atlas-prod-euw1-api:2',
      networkConfiguration: cloud.service.networkConfiguration,
      overrides: { containerOverrides: [{ name: 'api', command: ['node', '--import', 'tsx', 'migrate.ts'] }] },
    });
    // The service update that follows reuses the same revision instead of registering another.
    cloud.rollout = [{ state: 'COMPLETED' }];
    await ecs.deploy(REGION, NEW_IMAGE);
    expect(server.calls.filter((c) => c.operation === 'RegisterTaskDefinition')).toHaveLength(1);
  });

  it('reports a migration task that exits non-zero', async () => {
    cloud.migrationExit = 1;
    await expect(new EcsServices(target()).migrate(REGION, NEW_IMAGE)).rejects.toThrow(/migration task exited 1: Essential container/);
  });

  it('names the missing service instead of failing obscurely', async () => {
    await expect(new EcsServices(target({ stack: 'staging' })).currentImage(REGION)).rejects.toThrow(/service atlas-api not found in cluster atlas-stag-euw1-cluster/);
  });
});

describe('EcrRegistry over the ECR JSON API', () => {
  it('finds the repository and decodes the docker login', async () => {
    const login = await new EcrRegistry(target()).login(REGION);
    expect(login).toEqual({ repositoryUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/atlas-production/api', registry: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com', username: 'AWS', password: 'secret:with:colons' });
    expect(server.calls[0]!.scope).toMatch(/\/eu-west-1\/ecr$/);
  });

  it('does not push a tag the repository already holds (immutable tags)', async () => {
    cloud.images.add('1.0.0');
    // The docker path does not exist: reaching docker would fail this test.
    expect(await new EcrRegistry(target()).push(REGION, 'atlas-api:1.0.0', '1.0.0')).toEqual({ imageUri: NEW_IMAGE });
  });

  it('needs docker to push a new tag and says so clearly when it is missing', async () => {
    const err = await new EcrRegistry(target()).push(REGION, 'atlas-api:1.0.0', '1.0.0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerMissingError);
    expect((err as Error).message).toMatch(/not found on PATH.*--dry-run/);
  });

  it('surfaces a missing repository with ECR’s own error', async () => {
    await expect(new EcrRegistry(target({ stack: 'nope' })).login(REGION)).rejects.toThrow(/repository with name 'atlas-nope\/api' does not exist/);
  });
});

describe('LambdaOrchestrator over the Lambda REST API', () => {
  it('invokes the control region’s failover function once and reads each region’s phase', async () => {
    cloud.lambda = ['suspect'];
    expect(await new LambdaOrchestrator(target({ controlRegion: 'us-east-1' })).tick()).toEqual({ 'eu-west-1': 'suspect', 'us-east-1': 'healthy' });
    const call = server.calls.find((c) => c.service === 'rest')!;
    expect(call.operation).toBe('POST /2015-03-31/functions/atlas-prod-use1-failover/invocations');
    expect(call.headers['x-amz-invocation-type']).toBe('RequestResponse');
    expect(call.body).toEqual({ source: 'atlas-deploy' });
    expect(call.scope).toMatch(/\/us-east-1\/lambda$/);
  });

  it('retries while the scheduled run holds the single concurrency slot', async () => {
    cloud.lambda = ['throttle', 'throttle', 'healthy'];
    expect(await new LambdaOrchestrator(target({ controlRegion: 'us-east-1' })).tick()).toMatchObject({ 'eu-west-1': 'healthy' });
    expect(server.calls.filter((c) => c.service === 'rest')).toHaveLength(3);
  });

  it('reports a function error with the function’s own message', async () => {
    cloud.lambda = ['crash'];
    await expect(new LambdaOrchestrator(target({ controlRegion: 'us-east-1' })).tick()).rejects.toThrow(/failover failed: ATLAS_REGIONS is not valid JSON/);
  });
});

describe('DockerImageBuilder', () => {
  it('builds for linux/arm64 with buildx, and fails clearly without docker', async () => {
    expect(buildArgs({ dockerfile: 'infra/docker/api.Dockerfile', context: '.', tag: '1.0.0' })).toEqual(['buildx', 'build', '--platform', 'linux/arm64', '--file', 'infra/docker/api.Dockerfile', '--tag', 'atlas-api:1.0.0', '--load', '.']);
    await expect(new DockerImageBuilder({ docker: '/nonexistent/docker' }).build({ dockerfile: 'infra/docker/api.Dockerfile', context: '.', tag: '1.0.0' })).rejects.toThrow(DockerMissingError);
  });
});

describe('HttpHealthProbe', () => {
  it('is healthy on 200 only', async () => {
    let status = 200;
    const seen: string[] = [];
    const http = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    try {
      const probe = new HttpHealthProbe(target({ healthUrl: () => `http://127.0.0.1:${port}/readyz` }));
      expect(await probe.check(REGION)).toBe(true);
      status = 503;
      expect(await probe.check(REGION)).toBe(false);
      expect(seen).toEqual(['/readyz', '/readyz']);
      expect(new HttpHealthProbe(target()).url(REGION)).toBe('https://euw1.origin.atlas.test/readyz');
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
