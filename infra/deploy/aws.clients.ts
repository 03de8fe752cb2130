/**
 * The real adapters behind DeployClients: Docker (shelled out) builds and pushes the image,
 * the AWS SDK v3 talks to ECR and ECS, and fetch probes the regions' public health routes.
 * Resource names come from planners/names.ts, the same module the Pulumi components use.
 */
import { spawn } from 'node:child_process';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  type ContainerDefinition,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type TaskDefinition,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Topology } from '@atlas/core';
import { API_CONTAINER_NAME, API_SERVICE_NAME, clusterName, repositoryName, shortName } from '../planners/names';
import { regionalHost } from '../planners/routing.planner';
import type { DeployClients, HealthProbe, ImageBuilder, MigrationRunner, OrchestratorClient, RegistryClient, ServiceClient } from './deploy.clients';

/** Where a deployment lives; every name is derived from the stack and the topology. */
export interface AwsTarget {
  readonly stack: string;
  readonly topology: Topology;
  /** The stack's `atlas:domain`; regions answer at `https://<code>.<domain>`. */
  readonly domain: string;
  readonly healthPath: string;
  /** Extra SDK client settings per region (tests: a local endpoint and fixed credentials). */
  readonly clientConfig?: (region: string) => Record<string, unknown>;
  /** Replaces the public health URL (tests); default `https://<code>.<domain><healthPath>`. */
  readonly healthUrl?: (region: string) => string;
  /** ECS polling: interval and attempt budget while waiting for a service or a task. */
  readonly pollIntervalMs?: number;
  readonly pollAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The docker executable; default `docker` on PATH. */
  readonly docker?: string;
  /** Image platform; the task definitions run ARM64 (Graviton). */
  readonly platform?: string;
  /** Region of the failover orchestrator (`atlas:drControlRegion`); default: first region. */
  readonly controlRegion?: string;
}

export class DockerMissingError extends Error {
  override readonly name = 'DockerMissingError';
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs a command; resolves with its stdout, rejects naming the command and its stderr. */
export function runCommand(bin: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(new DockerMissingError(`${bin} not found on PATH: atlas deploy builds and pushes the image with Docker (with buildx); install it, or use --dry-run to print the plan without it`));
      } else reject(err);
    });
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${bin} ${args[0] ?? ''} ${args[1] ?? ''} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
    child.stdin.end(input ?? '');
  });
}

/** `docker buildx build` arguments for the API image (pure; printed by --dry-run). */
export function buildArgs(input: { readonly dockerfile: string; readonly context: string; readonly tag: string }, platform = 'linux/arm64'): string[] {
  return ['buildx', 'build', '--platform', platform, '--file', input.dockerfile, '--tag', `atlas-api:${input.tag}`, '--load', input.context];
}

export class DockerImageBuilder implements ImageBuilder {
  constructor(private readonly target: Pick<AwsTarget, 'docker' | 'platform'> = {}) {}

  async build(input: { readonly dockerfile: string; readonly context: string; readonly tag: string }): Promise<{ readonly localImage: string }> {
    const docker = this.target.docker ?? 'docker';
    try {
      await runCommand(docker, ['buildx', 'version']);
    } catch (err) {
      if (err instanceof DockerMissingError) throw err;
      throw new DockerMissingError(`${docker} buildx is not available (${(err as Error).message}); the image is built for linux/arm64 with buildx: install the buildx plugin, or use --dry-run`);
    }
    await runCommand(docker, buildArgs(input, this.target.platform));
    return { localImage: `atlas-api:${input.tag}` };
  }
}

export class EcrRegistry implements RegistryClient {
  private readonly clients = new Map<string, ECRClient>();
  constructor(private readonly target: AwsTarget) {}

  private client(region: string): ECRClient {
    let c = this.clients.get(region);
    if (!c) this.clients.set(region, (c = new ECRClient({ region, ...this.target.clientConfig?.(region) })));
    return c;
  }

  /** The repository URI and a docker login for it, from ECR. */
  async login(region: string): Promise<{ readonly repositoryUri: string; readonly registry: string; readonly username: string; readonly password: string }> {
    const ecr = this.client(region);
    const repos = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName(this.target.stack)] }));
    const repositoryUri = repos.repositories?.[0]?.repositoryUri;
    if (!repositoryUri) throw new Error(`ECR repository ${repositoryName(this.target.stack)} not found in ${region}; run pulumi up first`);
    const auth = await ecr.send(new GetAuthorizationTokenCommand({}));
    const data = auth.authorizationData?.[0];
    if (!data?.authorizationToken || !data.proxyEndpoint) throw new Error(`ECR returned no authorization token in ${region}`);
    const [username, password] = Buffer.from(data.authorizationToken, 'base64').toString('utf8').split(/:(.*)/s);
    return { repositoryUri, registry: data.proxyEndpoint, username: username!, password: password ?? '' };
  }

  /** True when the tag is already in the region's repository (tags are immutable there). */
  async hasTag(region: string, tag: string): Promise<boolean> {
    try {
      const out = await this.client(region).send(new DescribeImagesCommand({ repositoryName: repositoryName(this.target.stack), imageIds: [{ imageTag: tag }] }));
      return (out.imageDetails ?? []).length > 0;
    } catch (err) {
      if ((err as Error).name === 'ImageNotFoundException') return false;
      throw err;
    }
  }

  async push(region: string, localImage: string, tag: string): Promise<{ readonly imageUri: string }> {
    const login = await this.login(region);
    const imageUri = `${login.repositoryUri}:${tag}`;
    // A retried deploy finds the tag already pushed; immutable tags make that the same image.
    if (await this.hasTag(region, tag)) return { imageUri };
    const docker = this.target.docker ?? 'docker';
    await runCommand(docker, ['login', '--username', login.username, '--password-stdin', login.registry], login.password);
    await runCommand(docker, ['tag', localImage, imageUri]);
    await runCommand(docker, ['push', imageUri]);
    return { imageUri };
  }
}

/** ECS: the running image, new task definition revisions, service updates and one-off tasks. */
export class EcsServices implements ServiceClient, MigrationRunner {
  private readonly clients = new Map<string, ECSClient>();
  /** Revisions registered in this run, per region and image, so migrate and deploy share one. */
  private readonly revisions = new Map<string, string>();
  constructor(private readonly target: AwsTarget) {}

  private client(region: string): ECSClient {
    let c = this.clients.get(region);
    if (!c) this.clients.set(region, (c = new ECSClient({ region, ...this.target.clientConfig?.(region) })));
    return c;
  }

  private cluster(region: string): string {
    const r = this.target.topology.regions.find((x) => x.id === region);
    if (!r) throw new Error(`unknown region ${region}`);
    return clusterName(this.target.stack, r.code);
  }

  private async service(region: string) {
    const out = await this.client(region).send(new DescribeServicesCommand({ cluster: this.cluster(region), services: [API_SERVICE_NAME] }));
    const service = out.services?.[0];
    if (!service || service.status === 'INACTIVE') throw new Error(`ECS service ${API_SERVICE_NAME} not found in cluster ${this.cluster(region)} (${region})`);
    return service;
  }

  private async taskDefinition(region: string, arn: string): Promise<{ definition: TaskDefinition; tags: { key?: string; value?: string }[] }> {
    const out = await this.client(region).send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] }));
    if (!out.taskDefinition) throw new Error(`task definition ${arn} not found in ${region}`);
    return { definition: out.taskDefinition, tags: out.tags ?? [] };
  }

  async currentImage(region: string): Promise<string> {
    const service = await this.service(region);
    const { definition } = await this.taskDefinition(region, service.taskDefinition!);
    const image = definition.containerDefinitions?.find((c) => c.name === API_CONTAINER_NAME)?.image;
    if (!image) throw new Error(`task definition ${service.taskDefinition} has no ${API_CONTAINER_NAME} container`);
    return image;
  }

  /** A revision of the service's task definition that differs only in the API image. */
  async registerRevision(region: string, imageUri: string): Promise<string> {
    const key = `${region} ${imageUri}`;
    const known = this.revisions.get(key);
    if (known) return known;
    const service = await this.service(region);
    const { definition: d, tags } = await this.taskDefinition(region, service.taskDefinition!);
    if (!d.containerDefinitions?.some((c) => c.name === API_CONTAINER_NAME)) throw new Error(`task definition ${service.taskDefinition} has no ${API_CONTAINER_NAME} container`);
    const containerDefinitions: ContainerDefinition[] = d.containerDefinitions.map((c) => (c.name === API_CONTAINER_NAME ? { ...c, image: imageUri } : c));
    const out = await this.client(region).send(new RegisterTaskDefinitionCommand({
      family: d.family!,
      containerDefinitions,
      taskRoleArn: d.taskRoleArn,
      executionRoleArn: d.executionRoleArn,
      networkMode: d.networkMode,
      volumes: d.volumes,
      placementConstraints: d.placementConstraints,
      requiresCompatibilities: d.requiresCompatibilities,
      cpu: d.cpu,
      memory: d.memory,
      runtimePlatform: d.runtimePlatform,
      ephemeralStorage: d.ephemeralStorage,
      ...(tags.length > 0 ? { tags } : {}),
    }));
    const arn = out.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new Error(`ECS registered no task definition in ${region}`);
    this.revisions.set(key, arn);
    return arn;
  }

  /** Updates the service to the image, then waits until ECS reports the rollout complete. */
  async deploy(region: string, imageUri: string): Promise<void> {
    const taskDefinition = await this.registerRevision(region, imageUri);
    await this.client(region).send(new UpdateServiceCommand({ cluster: this.cluster(region), service: API_SERVICE_NAME, taskDefinition }));
    const attempts = this.target.pollAttempts ?? 120;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const service = await this.service(region);
      const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
      if (primary?.taskDefinition !== taskDefinition) throw new Error(`${region}: another deployment replaced ${taskDefinition} while waiting`);
      if (primary.rolloutState === 'FAILED') throw new Error(`${region}: ECS rollout failed: ${primary.rolloutStateReason ?? 'no reason given'}`);
      const settled = primary.rolloutState === 'COMPLETED' || (primary.rolloutState === undefined && service.deployments!.length === 1);
      if (settled && service.runningCount === service.desiredCount) return;
      if (attempt < attempts) await (this.target.sleep ?? wait)(this.target.pollIntervalMs ?? 10_000);
    }
    throw new Error(`${region}: service not stable after ${attempts} checks`);
  }

  /**
   * Runs the image's migration command (infra/docker/migrate.ts) as a one-off Fargate task in
   * the service's subnets and security groups, and waits for it to exit 0.
   */
  async migrate(region: string, imageUri: string): Promise<{ readonly detail: string }> {
    const taskDefinition = await this.registerRevision(region, imageUri);
    const service = await this.service(region);
    const ecs = this.client(region);
    const started = await ecs.send(new RunTaskCommand({
      cluster: this.cluster(region),
      taskDefinition,
      launchType: 'FARGATE',
      count: 1,
      startedBy: 'atlas-deploy',
      networkConfiguration: service.networkConfiguration,
      overrides: { containerOverrides: [{ name: API_CONTAINER_NAME, command: ['node', '--import', 'tsx', 'migrate.ts'] }] },
    }));
    const taskArn = started.tasks?.[0]?.taskArn;
    if (!taskArn) throw new Error(`${region}: migration task did not start: ${started.failures?.map((f) => `${f.reason ?? ''} ${f.detail ?? ''}`.trim()).join('; ') || 'no reason given'}`);
    const attempts = this.target.pollAttempts ?? 120;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const out = await ecs.send(new DescribeTasksCommand({ cluster: this.cluster(region), tasks: [taskArn] }));
      const task = out.tasks?.[0];
      if (task?.lastStatus === 'STOPPED') {
        const exit = task.containers?.find((c) => c.name === API_CONTAINER_NAME)?.exitCode;
        if (exit === 0) return { detail: `task ${taskArn.split('/').pop()} exited 0` };
        throw new Error(`${region}: migration task exited ${exit ?? 'without a code'}: ${task.stoppedReason ?? ''}`.trim());
      }
      if (attempt < attempts) await (this.target.sleep ?? wait)(this.target.pollIntervalMs ?? 10_000);
    }
    throw new Error(`${region}: migration task still running after ${attempts} checks`);
  }
}

/** One GET of the region's public health route; 200 within 5 s is healthy. */
export class HttpHealthProbe implements HealthProbe {
  constructor(private readonly target: AwsTarget) {}

  url(region: string): string {
    if (this.target.healthUrl) return this.target.healthUrl(region);
    const r = this.target.topology.regions.find((x) => x.id === region);
    if (!r) throw new Error(`unknown region ${region}`);
    return `https://${regionalHost({ domain: this.target.domain }, r.code)}${this.target.healthPath}`;
  }

  async check(region: string): Promise<boolean> {
    const res = await fetch(this.url(region), { signal: AbortSignal.timeout(5_000), redirect: 'manual' });
    await res.body?.cancel();
    return res.status === 200;
  }
}

/**
 * Invokes the failover orchestrator Lambda (infra/lambda/orchestrator.handler.ts) once and
 * reads each region's phase from its report. The function allows one run at a time, so a
 * throttled call (the scheduled run is in progress) is retried.
 */
export class LambdaOrchestrator implements OrchestratorClient {
  constructor(private readonly target: AwsTarget) {}

  functionName(): { readonly region: string; readonly name: string } {
    const id = this.target.controlRegion ?? this.target.topology.regions[0]!.id;
    const region = this.target.topology.regions.find((r) => r.id === id);
    if (!region) throw new Error(`control region ${id} is not a topology region`);
    return { region: region.id, name: shortName({ stack: this.target.stack, region }, 'failover') };
  }

  async tick(): Promise<Readonly<Record<string, string>>> {
    const { region, name } = this.functionName();
    const lambda = new LambdaClient({ region, ...this.target.clientConfig?.(region) });
    const attempts = this.target.pollAttempts ?? 12;
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify({ source: 'atlas-deploy' })) }));
        const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
        if (out.FunctionError) throw new Error(`orchestrator ${name} failed: ${(JSON.parse(text || '{}') as { errorMessage?: string }).errorMessage ?? out.FunctionError}`);
        const report = JSON.parse(text) as { regions?: { region: string; phase: string }[] };
        if (!Array.isArray(report.regions)) throw new Error(`orchestrator ${name} returned no region report`);
        return Object.fromEntries(report.regions.map((r) => [r.region, r.phase]));
      } catch (err) {
        if ((err as Error).name !== 'TooManyRequestsException' || attempt >= attempts) throw err;
        await (this.target.sleep ?? wait)(this.target.pollIntervalMs ?? 10_000);
      }
    }
  }
}

/** The adapters `atlas deploy` uses against a real account. */
export function awsDeployClients(target: AwsTarget): DeployClients {
  const ecs = new EcsServices(target);
  return {
    images: new DockerImageBuilder(target),
    registry: new EcrRegistry(target),
    migrations: ecs,
    services: ecs,
    health: new HttpHealthProbe(target),
    orchestrator: new LambdaOrchestrator(target),
    sleep: target.sleep ?? wait,
  };
}
