import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Topology } from '@atlas/core';
import { awsDeployClients, buildArgs, type DeployClients, DeployPlanError, runDeploy } from '@atlas/infra/deploy';

/** infra/, where the Pulumi project and its stack files live. */
export const INFRA_DIR = fileURLToPath(new URL('../../../../infra/', import.meta.url));

export interface DeployCommandOptions {
  readonly topology: Topology;
  readonly tag: string | undefined;
  readonly stack: string | undefined;
  /** Comma-separated region ids, in rollout order. */
  readonly regions?: string;
  readonly canary?: string;
  readonly dryRun: boolean;
  readonly log: (line: string) => void;
  /** Replaces the AWS/Docker adapters (tests). */
  readonly clients?: DeployClients;
  readonly infraDir?: string;
}

/** `atlas:key: value` scalars of infra/Pulumi.<stack>.yaml (quoted or not). */
export async function readStackFile(infraDir: string, stack: string): Promise<Record<string, string>> {
  if (!/^[a-z][a-z0-9-]{0,40}$/.test(stack)) throw new DeployPlanError(`invalid stack name: ${stack}`);
  let text: string;
  try {
    text = await readFile(`${infraDir}/Pulumi.${stack}.yaml`, 'utf8');
  } catch {
    throw new DeployPlanError(`no stack file infra/Pulumi.${stack}.yaml`);
  }
  return Object.fromEntries([...text.matchAll(/^ {2}atlas:(\w+): (?:'([^'\n]*)'|"?([^"\n]*)"?)$/gm)].map((m) => [m[1]!, (m[2] ?? m[3]!).trim()]));
}

/**
 * `atlas deploy <tag> --stack <name>`: build the API image, push it to every region's ECR,
 * then migrate, update and verify region by region, rolling back a region that fails.
 * `--dry-run` prints the plan and touches neither Docker nor AWS.
 */
export async function deploy(o: DeployCommandOptions): Promise<number> {
  if (!o.tag || !o.stack) {
    process.stderr.write('atlas: deploy needs an image tag and --stack <name>, e.g. atlas deploy 1.4.0 --stack production --dry-run\n');
    return 2;
  }
  try {
    const infraDir = o.infraDir ?? INFRA_DIR;
    const stackFile = await readStackFile(infraDir, o.stack);
    const domain = stackFile.domain;
    if (!domain) throw new DeployPlanError(`infra/Pulumi.${o.stack}.yaml has no atlas:domain`);
    const healthPath = stackFile.healthPath ?? '/readyz';
    const options = {
      topology: o.topology,
      tag: o.tag,
      ...(o.regions ? { regions: o.regions.split(',').map((r) => r.trim()).filter((r) => r !== '') } : {}),
      ...(o.canary ? { canary: o.canary } : {}),
      dryRun: o.dryRun,
      orchestratorCheck: true,
      // The Dockerfile and the build context are resolved from the repository root.
      dockerfile: `${infraDir}docker/api.Dockerfile`,
      context: `${infraDir}..`,
      out: o.log,
    };
    const clients = o.clients ?? awsDeployClients({ stack: o.stack, topology: o.topology, domain, healthPath, ...(stackFile.drControlRegion ? { controlRegion: stackFile.drControlRegion } : {}) });
    if (o.dryRun) o.log(`stack ${o.stack}: regions answer at https://<code>.${domain}${healthPath}; image built with: docker ${buildArgs({ dockerfile: 'infra/docker/api.Dockerfile', context: '.', tag: o.tag }).join(' ')}`);
    const report = await runDeploy(options, clients);
    if (report.dryRun) return 0;
    o.log(report.ok ? `deployed ${o.tag} to ${report.deployed.join(', ')}` : `deploy stopped${report.rolledBack.length > 0 ? `; rolled back ${report.rolledBack.join(', ')}` : ''}${report.deployed.length > 0 ? `; running ${o.tag}: ${report.deployed.join(', ')}` : ''}`);
    return report.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof DeployPlanError) {
      process.stderr.write(`atlas: deploy: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
