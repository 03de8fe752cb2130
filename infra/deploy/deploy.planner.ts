import type { Topology } from '@atlas/core';

export type StepKind = 'build' | 'push' | 'migrate' | 'update' | 'verify' | 'rollback' | 'orchestrator';

export interface DeployStep {
  readonly id: string;
  readonly kind: StepKind;
  readonly region?: string;
  readonly description: string;
}

export interface DeployOptions {
  /** The validated topology (loadTopology()); regions and the health rule come from it. */
  readonly topology: Topology;
  readonly tag: string;
  /** Regions in rollout order; default: the topology order with `canary` first. */
  readonly regions?: readonly string[];
  readonly canary?: string;
  readonly dryRun?: boolean;
  readonly dockerfile?: string;
  readonly context?: string;
  /** Consecutive healthy checks required; defaults to the topology's `upAfter`. */
  readonly healthyChecks?: number;
  readonly verifyAttempts?: number;
  readonly verifyIntervalMs?: number;
  /** Last step: run the failover orchestrator once and require every released region healthy. */
  readonly orchestratorCheck?: boolean;
  readonly out?: (line: string) => void;
}

export interface DeployPlan {
  readonly tag: string;
  readonly regions: readonly string[];
  readonly steps: readonly DeployStep[];
}

export class DeployPlanError extends Error {
  override readonly name = 'DeployPlanError';
}

/**
 * The steps of a rollout: one build, a push to every region first (so a registry problem
 * stops the deploy before any region changes), then region by region: migrate, update,
 * verify. Rollback steps are not planned; the runner adds one for a region that fails.
 */
export function planDeploy(options: DeployOptions): DeployPlan {
  const { topology } = options;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(options.tag)) throw new DeployPlanError(`invalid image tag: ${options.tag}`);
  const known = topology.regions.map((r) => r.id);
  let regions = [...(options.regions ?? known)];
  for (const r of regions) if (!known.includes(r)) throw new DeployPlanError(`unknown region ${r}; known: ${known.join(', ')}`);
  if (new Set(regions).size !== regions.length) throw new DeployPlanError('a region is listed twice');
  if (options.canary !== undefined) {
    if (!regions.includes(options.canary)) throw new DeployPlanError(`canary ${options.canary} is not among the regions to deploy`);
    regions = [options.canary, ...regions.filter((r) => r !== options.canary)];
  }
  if (regions.length === 0) throw new DeployPlanError('no region to deploy');

  const steps: DeployStep[] = [{ id: 'build', kind: 'build', description: `build image atlas-api:${options.tag}` }];
  for (const region of regions) steps.push({ id: `push:${region}`, kind: 'push', region, description: `push atlas-api:${options.tag} to ${region} registry` });
  for (const region of regions) {
    steps.push(
      { id: `migrate:${region}`, kind: 'migrate', region, description: `run migrations in ${region}` },
      { id: `update:${region}`, kind: 'update', region, description: `update ${region} service to ${options.tag}` },
      { id: `verify:${region}`, kind: 'verify', region, description: `verify ${region} health` },
    );
  }
  if (options.orchestratorCheck) steps.push({ id: 'orchestrator', kind: 'orchestrator', description: 'run the failover orchestrator once: every released region healthy' });
  return { tag: options.tag, regions, steps };
}

export function formatPlan(plan: DeployPlan): string {
  const lines = [`atlas deploy ${plan.tag}: ${plan.regions.join(' → ')}`];
  plan.steps.forEach((s, i) => lines.push(`${String(i + 1).padStart(2)}. ${s.description}`));
  lines.push('on failure in a region: roll that region back to its previous image and stop');
  return lines.join('\n');
}
