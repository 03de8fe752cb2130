import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as pulumi from '@pulumi/pulumi';
import { parseStackConfig } from '../config/stack-config';
import { installMocks, type MockHarness } from './support/pulumi-mocks';

/** `atlas:key: value` lines of a Pulumi stack file (flat scalars are all we use). */
function stackConfig(file: string): Record<string, string> {
  const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
  const entries = [...text.matchAll(/^ {2}atlas:(\w+): (?:'([^'\n]*)'|"?([^"\n]*)"?)$/gm)].map((m) => [m[1]!, (m[2] ?? m[3]!).trim()]);
  return Object.fromEntries(entries);
}

describe('example stack files', () => {
  it.each([
    ['Pulumi.staging.yaml', 'staging', 2],
    ['Pulumi.production.yaml', 'production', 3],
  ])('%s is valid stack config', (file, environment, azCount) => {
    const settings = parseStackConfig(stackConfig(file));
    expect(settings.environment).toBe(environment);
    expect(settings.azCount).toBe(azCount);
  });
});

describe('index.ts under mocks (what `pulumi preview` runs)', () => {
  let h: MockHarness;
  let program: Record<string, unknown>;

  beforeAll(async () => {
    h = await installMocks();
    pulumi.runtime.setAllConfig({ ...Object.fromEntries(Object.entries(stackConfig('Pulumi.production.yaml')).map(([k, v]) => [`atlas:${k}`, v])), 
      'atlas:redisAuthToken': 'x'.repeat(32),
      'atlas:blindIndexKey': 'b'.repeat(32),
      'atlas:auditSigningKey': '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo","d":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo"}',
      'atlas:dbAppPassword': 'p'.repeat(32),
      'atlas:dbCacheStreamPassword': 's'.repeat(32),
      'atlas:documentKeys': JSON.stringify({ 'eu-west-1': 'A'.repeat(43) + '=', 'us-east-1': 'B'.repeat(43) + '=', 'ap-southeast-1': 'C'.repeat(43) + '=' }),
    }, ['atlas:redisAuthToken', 'atlas:blindIndexKey', 'atlas:auditSigningKey', 'atlas:documentKeys', 'atlas:dbAppPassword', 'atlas:dbCacheStreamPassword']);
    program = await import('../index');
    await h.settle();
  });

  it('deploys the default topology with the orchestrator in the configured control region', async () => {
    expect(Object.keys(program).sort()).toEqual(['albs', 'orchestratorFunction', 'repositories']);
    expect(h.ofType('aws:rds/instance:Instance').map((r) => r.inputs.region).sort()).toEqual(['ap-southeast-1', 'eu-west-1', 'us-east-1']);
    const fn = h.one('aws:lambda/function:Function');
    expect(fn.inputs.region).toBe('us-east-1');
    // A relative atlas:orchestratorBundle is resolved against infra/, where Pulumi.yaml lives.
    expect(await fn.inputs.code.path).toMatch(/\/dist\/orchestrator$/);
    expect(h.ofType('aws:backup/plan:Plan').flatMap((p) => p.inputs.rules[0].copyActions)).toEqual([]);
  });
});
