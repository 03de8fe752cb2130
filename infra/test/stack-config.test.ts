import { describe, expect, it } from 'vitest';
import { parseStackConfig, type RawConfig } from '../config/stack-config';

const valid: RawConfig = {
  environment: 'production',
  domain: 'origin.atlas.example.com',
  route53ZoneId: 'Z123',
  cloudflareAccountId: 'acc',
  cloudflareZoneId: 'zone',
  publicHostname: 'app.atlas.example.com',
  imageTag: '1.2.3',
  alertEmail: 'ops@atlas.example.com',
  authPublicKey: '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo"}',
};

describe('parseStackConfig', () => {
  it('fills the seed defaults and freezes the result', () => {
    const s = parseStackConfig(valid);
    expect(s).toMatchObject({ healthIntervalSeconds: 30, healthPath: '/readyz', azCount: 3, minTasks: 2, maxTasks: 10, taskCpu: 2048, taskMemory: 4096, dbInstanceClass: 'db.r6g.xlarge', cacheNodeType: 'cache.r6g.large', postgresVersion: '18' });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it.each([
    [{ domain: undefined }, 'atlas:domain: is required'],
    [{ environment: 'dev' }, 'atlas:environment: must be one of staging, production'],
    [{ alertEmail: 'nobody' }, 'atlas:alertEmail: not an e-mail'],
    [{ domain: 'Not A Domain' }, 'atlas:domain: not a lower-case DNS name'],
    [{ healthIntervalSeconds: '1' }, 'atlas:healthIntervalSeconds: must be an integer in 10..30'],
    [{ azCount: '1' }, 'atlas:azCount: must be an integer in 2..6'],
    [{ minTasks: '1' }, 'atlas:minTasks: must be an integer in 2..100'],
    [{ minTasks: '5', maxTasks: '4' }, 'atlas:maxTasks: must be an integer in 5..100'],
    [{ pagerDutyEndpoint: 'http://x' }, 'atlas:pagerDutyEndpoint: must be an https:// URL'],
    [{ vpcCidrs: '{nope' }, 'atlas:vpcCidrs: must be a JSON object'],
    [{ healthPath: 'health' }, 'atlas:healthPath: must start with /'],
    [{ authPublicKey: undefined }, 'atlas:authPublicKey: is required'],
    [{ authPublicKey: '{"kty":"RSA"}' }, 'atlas:authPublicKey: must be an Ed25519 public JWK'],
    [{ authPublicKey: '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo","d":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo"}' }, 'atlas:authPublicKey: is a private key'],
  ])('refuses %j naming the key', (override, message) => {
    expect(() => parseStackConfig({ ...valid, ...override })).toThrow(message);
  });

  it('reads pinned VPC CIDRs', () => {
    expect(parseStackConfig({ ...valid, vpcCidrs: '{"eu-west-1":"10.9.0.0/16"}' }).vpcCidrs).toEqual({ 'eu-west-1': '10.9.0.0/16' });
  });
});
