/**
 * The stack's settings, validated once before any resource is declared and then frozen.
 * Pure: index.ts reads Pulumi config into a plain record and hands it here, so tests can
 * exercise every rule without the Pulumi runtime. Errors name the `atlas:` key to fix.
 */

export const ENVIRONMENTS = ['staging', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export interface StackSettings {
  readonly environment: Environment;
  /** Path of the topology file; relative paths resolve from the repository root. */
  readonly topologyPath?: string;
  /** Route 53 hosted zone that serves the origin names (`api.`, `latency.`, `<code>.`). */
  readonly domain: string;
  readonly route53ZoneId: string;
  readonly cloudflareAccountId: string;
  readonly cloudflareZoneId: string;
  /** Public name users type, proxied by Cloudflare, e.g. `app.atlas.example`. */
  readonly publicHostname: string;
  /** Deployed health-probe interval; see planCloudHealth for why it differs from local. */
  readonly healthIntervalSeconds: number;
  readonly healthPath: string;
  readonly imageTag: string;
  readonly alertEmail: string;
  /** Ed25519 public JWK (JSON) that verifies API tokens: ATLAS_AUTH_PUBLIC_KEY of every task. */
  readonly authPublicKey: string;
  readonly pagerDutyEndpoint?: string;
  /** Directory holding the orchestrator's built Lambda bundle (index.mjs). */
  readonly orchestratorBundle: string;
  /** Region hosting the failover orchestrator; defaults to the topology's first region. */
  readonly drControlRegion?: string;
  readonly vpcSupernet: string;
  readonly vpcCidrs: Readonly<Record<string, string>>;
  readonly azCount: number;
  readonly postgresVersion: string;
  readonly dbInstanceClass: string;
  readonly cacheNodeType: string;
  readonly taskCpu: number;
  readonly taskMemory: number;
  readonly minTasks: number;
  readonly maxTasks: number;
}

export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`atlas:${key}: ${message}`);
  }
}

export type RawConfig = Readonly<Record<string, string | undefined>>;

export function parseStackConfig(raw: RawConfig): StackSettings {
  const req = (key: string): string => {
    const v = raw[key]?.trim();
    if (!v) throw new StackConfigError(key, 'is required (pulumi config set atlas:' + key + ' …)');
    return v;
  };
  const opt = (key: string): string | undefined => raw[key]?.trim() || undefined;
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const text = opt(key);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new StackConfigError(key, `must be an integer in ${min}..${max}, got ${text}`);
    return n;
  };
  const host = (key: string): string => {
    const v = req(key);
    if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$/.test(v)) throw new StackConfigError(key, `not a lower-case DNS name: ${v}`);
    return v;
  };

  const environment = req('environment');
  if (!(ENVIRONMENTS as readonly string[]).includes(environment)) throw new StackConfigError('environment', `must be one of ${ENVIRONMENTS.join(', ')}`);
  const alertEmail = req('alertEmail');
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alertEmail)) throw new StackConfigError('alertEmail', `not an e-mail address: ${alertEmail}`);
  const authPublicKey = req('authPublicKey');
  let jwk: { kty?: unknown; crv?: unknown; x?: unknown; d?: unknown } | undefined;
  try {
    jwk = JSON.parse(authPublicKey) as typeof jwk;
  } catch {
    jwk = undefined;
  }
  if (jwk?.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(jwk.x)) {
    throw new StackConfigError('authPublicKey', 'must be an Ed25519 public JWK as JSON ({"kty":"OKP","crv":"Ed25519","x":…})');
  }
  if (jwk.d !== undefined) throw new StackConfigError('authPublicKey', 'is a private key; give only the public half (no "d")');
  const pagerDutyEndpoint = opt('pagerDutyEndpoint');
  if (pagerDutyEndpoint !== undefined && !pagerDutyEndpoint.startsWith('https://')) throw new StackConfigError('pagerDutyEndpoint', 'must be an https:// URL');
  // The API's readiness route: 200 only when the database is reachable and migrated to head.
  const healthPath = opt('healthPath') ?? '/readyz';
  if (!healthPath.startsWith('/')) throw new StackConfigError('healthPath', 'must start with /');

  let vpcCidrs: Record<string, string> = {};
  const pinned = opt('vpcCidrs');
  if (pinned !== undefined) {
    try {
      vpcCidrs = JSON.parse(pinned) as Record<string, string>;
    } catch {
      throw new StackConfigError('vpcCidrs', 'must be a JSON object of region id → CIDR');
    }
  }

  const minTasks = int('minTasks', 2, 2, 100);
  const maxTasks = int('maxTasks', 10, minTasks, 100);

  return Object.freeze({
    environment: environment as Environment,
    topologyPath: opt('topologyPath'),
    domain: host('domain'),
    route53ZoneId: req('route53ZoneId'),
    cloudflareAccountId: req('cloudflareAccountId'),
    cloudflareZoneId: req('cloudflareZoneId'),
    publicHostname: host('publicHostname'),
    healthIntervalSeconds: int('healthIntervalSeconds', 30, 10, 30),
    healthPath,
    imageTag: req('imageTag'),
    alertEmail,
    authPublicKey: JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }),
    pagerDutyEndpoint,
    orchestratorBundle: opt('orchestratorBundle') ?? '../dist/orchestrator',
    drControlRegion: opt('drControlRegion'),
    vpcSupernet: opt('vpcSupernet') ?? '10.0.0.0/8',
    vpcCidrs: Object.freeze(vpcCidrs),
    azCount: int('azCount', 3, 2, 6),
    postgresVersion: opt('postgresVersion') ?? '18',
    dbInstanceClass: opt('dbInstanceClass') ?? 'db.r6g.xlarge',
    cacheNodeType: opt('cacheNodeType') ?? 'cache.r6g.large',
    taskCpu: int('taskCpu', 2048, 256, 16384),
    taskMemory: int('taskMemory', 4096, 512, 122880),
    minTasks,
    maxTasks,
  });
}
