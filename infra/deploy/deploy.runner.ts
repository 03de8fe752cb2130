import type { DeployClients } from './deploy.clients';
import { type DeployOptions, type DeployStep, formatPlan, planDeploy } from './deploy.planner';

export type StepStatus = 'done' | 'failed' | 'not-run';

export interface StepResult extends DeployStep {
  readonly status: StepStatus;
  readonly detail?: string;
}

export interface DeployReport {
  readonly ok: boolean;
  readonly dryRun: boolean;
  readonly steps: readonly StepResult[];
  /** Regions now running the new tag. */
  readonly deployed: readonly string[];
  readonly rolledBack: readonly string[];
}

/**
 * Runs the plan step by step. Steps report, they never throw: the first failure stops the
 * rollout, a region whose update or verification failed is put back on its previous image,
 * and every later step is reported as not run.
 */
export async function runDeploy(options: DeployOptions, clients: DeployClients): Promise<DeployReport> {
  const plan = planDeploy(options);
  const out = options.out ?? (() => {});
  if (options.dryRun) {
    out(formatPlan(plan));
    return { ok: true, dryRun: true, steps: plan.steps.map((s) => ({ ...s, status: 'not-run' })), deployed: [], rolledBack: [] };
  }

  const results: StepResult[] = [];
  const images = new Map<string, string>();
  const previous = new Map<string, string>();
  const deployed: string[] = [];
  const rolledBack: string[] = [];
  let localImage = '';
  let failed = false;

  const run = async (step: DeployStep, action: () => Promise<string | undefined>): Promise<boolean> => {
    try {
      const detail = await action();
      results.push({ ...step, status: 'done', ...(detail ? { detail } : {}) });
      out(`✔ ${step.description}${detail ? ` (${detail})` : ''}`);
      return true;
    } catch (err) {
      results.push({ ...step, status: 'failed', detail: (err as Error).message });
      out(`✘ ${step.description}: ${(err as Error).message}`);
      return false;
    }
  };

  const rollback = async (region: string): Promise<void> => {
    const image = previous.get(region);
    const step: DeployStep = { id: `rollback:${region}`, kind: 'rollback', region, description: `roll ${region} back to ${image ?? 'its previous image'}` };
    const ok = await run(step, async () => {
      if (!image) throw new Error('previous image unknown');
      await clients.services.deploy(region, image);
      return image;
    });
    if (ok) rolledBack.push(region);
  };

  for (const step of plan.steps) {
    if (failed) {
      results.push({ ...step, status: 'not-run' });
      continue;
    }
    const region = step.region ?? '';
    let ok: boolean;
    switch (step.kind) {
      case 'build':
        ok = await run(step, async () => {
          localImage = (await clients.images.build({ dockerfile: options.dockerfile ?? 'infra/docker/api.Dockerfile', context: options.context ?? '.', tag: plan.tag })).localImage;
          return localImage;
        });
        break;
      case 'push':
        ok = await run(step, async () => {
          const { imageUri } = await clients.registry.push(region, localImage, plan.tag);
          images.set(region, imageUri);
          return imageUri;
        });
        break;
      case 'migrate':
        ok = await run(step, async () => (await clients.migrations.migrate(region, images.get(region)!)).detail);
        break;
      case 'update':
        ok = await run(step, async () => {
          previous.set(region, await clients.services.currentImage(region));
          await clients.services.deploy(region, images.get(region)!);
          return undefined;
        });
        if (!ok) await rollback(region);
        break;
      case 'verify':
        ok = await run(step, () => verify(region, options, clients));
        if (ok) deployed.push(region);
        else await rollback(region);
        break;
      case 'orchestrator':
        // Every region is released by now: a failure here is reported, nothing is rolled back.
        ok = await run(step, async () => {
          if (!clients.orchestrator) throw new Error('no orchestrator client');
          const phases = await clients.orchestrator.tick();
          const unhealthy = plan.regions.filter((r) => phases[r] !== 'healthy');
          if (unhealthy.length > 0) throw new Error(`the orchestrator sees ${unhealthy.map((r) => `${r} ${phases[r] ?? 'unwatched'}`).join(', ')}`);
          return `${plan.regions.length} regions healthy`;
        });
        break;
      case 'rollback':
        ok = true;
        break;
    }
    if (!ok) failed = true;
  }
  return { ok: !failed, dryRun: false, steps: results, deployed, rolledBack };
}

/** Healthy `upAfter` times in a row (the topology's recovery rule) within the attempt budget. */
async function verify(region: string, options: DeployOptions, clients: DeployClients): Promise<string> {
  const needed = options.healthyChecks ?? options.topology.health.upAfter;
  const attempts = options.verifyAttempts ?? 20;
  const interval = options.verifyIntervalMs ?? 5_000;
  let streak = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let healthy = false;
    try {
      healthy = await clients.health.check(region);
    } catch {
      healthy = false;
    }
    streak = healthy ? streak + 1 : 0;
    if (streak >= needed) return `${needed} healthy checks after ${attempt} attempts`;
    if (attempt < attempts) await clients.sleep(interval);
  }
  throw new Error(`not healthy ${needed}× in a row within ${attempts} checks`);
}
