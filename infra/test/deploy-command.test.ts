import { describe, expect, it } from 'vitest';
import { loadTopology } from '@atlas/core';
import { deploy, readStackFile, INFRA_DIR } from '../../packages/cli/src/commands/deploy';
import type { DeployClients } from '../deploy';

/** `atlas deploy` as the CLI runs it, with the cloud replaced by in-memory fakes. */
const topology = loadTopology();

function clients(calls: string[], failVerify?: string, phases: Record<string, string> = {}): DeployClients {
  return {
    images: { build: async ({ tag }) => (calls.push(`build ${tag}`), { localImage: `atlas-api:${tag}` }) },
    registry: { push: async (region, _image, tag) => (calls.push(`push ${region}`), { imageUri: `${region}/atlas:${tag}` }) },
    migrations: { migrate: async (region) => (calls.push(`migrate ${region}`), { detail: 'exited 0' }) },
    services: { currentImage: async (region) => `${region}/atlas:old`, deploy: async (region, image) => void calls.push(`deploy ${region} ${image}`) },
    health: { check: async (region) => region !== failVerify },
    orchestrator: { tick: async () => (calls.push('tick'), Object.fromEntries(topology.regions.map((r) => [r.id, phases[r.id] ?? 'healthy']))) },
    sleep: async () => {},
  };
}

describe('atlas deploy', () => {
  it('reads the domain and health path from the stack file', async () => {
    expect(await readStackFile(INFRA_DIR, 'production')).toMatchObject({ domain: 'origin.atlas.example.com', environment: 'production' });
  });

  it('--dry-run prints the plan and calls no client', async () => {
    const calls: string[] = [];
    const lines: string[] = [];
    const code = await deploy({ topology, tag: '2.0.0', stack: 'production', canary: 'us-east-1', dryRun: true, log: (l) => lines.push(l), clients: clients(calls) });
    expect(code).toBe(0);
    expect(calls).toEqual([]);
    const text = lines.join('\n');
    expect(text).toContain('https://<code>.origin.atlas.example.com/readyz');
    expect(text).toContain('docker buildx build --platform linux/arm64');
    expect(text).toMatch(/atlas deploy 2\.0\.0: us-east-1 → eu-west-1 → ap-southeast-1/);
    expect(text).toContain('run the failover orchestrator once: every released region healthy');
  });

  it('runs the rollout, and exits 1 with the region rolled back when verification fails', async () => {
    const calls: string[] = [];
    const lines: string[] = [];
    expect(await deploy({ topology, tag: '2.0.0', stack: 'staging', regions: 'eu-west-1,us-east-1', dryRun: false, log: (l) => lines.push(l), clients: clients(calls) })).toBe(0);
    expect(calls).toEqual(['build 2.0.0', 'push eu-west-1', 'push us-east-1', 'migrate eu-west-1', 'deploy eu-west-1 eu-west-1/atlas:2.0.0', 'migrate us-east-1', 'deploy us-east-1 us-east-1/atlas:2.0.0', 'tick']);
    expect(lines.at(-1)).toBe('deployed 2.0.0 to eu-west-1, us-east-1');

    const failing: string[] = [];
    lines.length = 0;
    expect(await deploy({ topology, tag: '2.0.0', stack: 'staging', dryRun: false, log: (l) => lines.push(l), clients: clients(failing, 'us-east-1') })).toBe(1);
    expect(failing.at(-1)).toBe('deploy us-east-1 us-east-1/atlas:old');
    expect(lines.at(-1)).toBe('deploy stopped; rolled back us-east-1; running 2.0.0: eu-west-1');
  });

  it('exits 1 when the failover orchestrator does not see every released region healthy', async () => {
    const calls: string[] = [];
    const lines: string[] = [];
    expect(await deploy({ topology, tag: '2.0.0', stack: 'production', dryRun: false, log: (l) => lines.push(l), clients: clients(calls, undefined, { 'ap-southeast-1': 'suspect' }) })).toBe(1);
    expect(calls.at(-1)).toBe('tick');
    expect(lines).toContain('✘ run the failover orchestrator once: every released region healthy: the orchestrator sees ap-southeast-1 suspect');
    expect(lines.at(-1)).toBe('deploy stopped; running 2.0.0: eu-west-1, us-east-1, ap-southeast-1');
  });

  it.each([
    [{ tag: undefined, stack: 'production' }],
    [{ tag: '1.0.0', stack: 'nope' }],
    [{ tag: 'bad tag', stack: 'production' }],
    [{ tag: '1.0.0', stack: 'production', regions: 'mars-1' }],
  ])('refuses %j with exit 2 before touching anything', async (args) => {
    const calls: string[] = [];
    expect(await deploy({ topology, dryRun: false, log: () => {}, clients: clients(calls), ...args })).toBe(2);
    expect(calls).toEqual([]);
  });
});
