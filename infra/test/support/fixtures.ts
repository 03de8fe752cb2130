import { loadTopology, parseTopology, type Topology } from '@atlas/core';
import { parseStackConfig, type StackSettings } from '../../config/stack-config';

/** The default topology plus eu-central-1 as the EU DR partner: the case where backups are copied. */
export function topologyWithEuPartner(): Topology {
  const base = loadTopology();
  return parseTopology({
    ...base,
    regions: [...base.regions.map((r) => (r.id === 'eu-west-1' ? { ...r, drPartner: 'eu-central-1' } : r)), { id: 'eu-central-1', code: 'euc1', displayName: 'Europe (Frankfurt)', jurisdiction: 'EU', apiPort: 8084, dbPort: 54334 }],
    rttMs: {
      'eu-west-1': { ...base.rttMs['eu-west-1'], 'eu-central-1': 25 },
      'us-east-1': { ...base.rttMs['us-east-1'], 'eu-central-1': 90 },
      'ap-southeast-1': { ...base.rttMs['ap-southeast-1'], 'eu-central-1': 160 },
      'eu-central-1': { 'eu-west-1': 25, 'us-east-1': 90, 'ap-southeast-1': 160 },
    },
  });
}

export const TEST_AUTH_PUBLIC_KEY = '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo"}';

/** Stack secrets for createAtlas; recognisable strings so tests can look for leaks. */
export function testSecrets(topology: Topology) {
  return {
    redisAuthToken: 'a-very-long-redis-auth-token-0123456789',
    blindIndexKey: 'blind-index-key-secret-value-0123456789',
    auditSigningKey: '{"kty":"OKP","crv":"Ed25519","x":"IkzoKxN84jBjevWZtU2dP5-Cfk-eYX2w3FA0aN56cNo","d":"audit-private-secret-value-0000000000000000"}',
    dbAppPassword: 'db-app-password-secret-value-0123456789',
    dbCacheStreamPassword: 'db-cache-stream-password-secret-value-0123456789',
    documentKeys: Object.fromEntries(topology.regions.map((r) => [r.id, Buffer.alloc(32, r.code).toString('base64')])),
  };
}

export function testSettings(overrides: Record<string, string> = {}): StackSettings {
  return parseStackConfig({
    environment: 'production',
    domain: 'origin.atlas.test',
    route53ZoneId: 'ZTEST',
    cloudflareAccountId: 'cf-account',
    cloudflareZoneId: 'cf-zone',
    publicHostname: 'app.atlas.test',
    imageTag: '1.0.0',
    alertEmail: 'ops@atlas.test',
    authPublicKey: TEST_AUTH_PUBLIC_KEY,
    pagerDutyEndpoint: 'https://events.pagerduty.com/integration/x/enqueue',
    orchestratorBundle: 'dist/orchestrator',
    ...overrides,
  });
}
