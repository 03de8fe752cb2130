import * as cloudflare from '@pulumi/cloudflare';
import * as pulumi from '@pulumi/pulumi';
import type { CloudflarePlan } from '../planners/cloudflare.planner';

export interface CloudflareArgs {
  readonly accountId: string;
  readonly zoneId: string;
  readonly publicHostname: string;
  readonly plan: CloudflarePlan;
}

/** Zone settings: TLS 1.3 minimum at the edge, full certificate validation to the origin. */
export const ZONE_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['min_tls_version', '1.3'],
  ['tls_1_3', 'on'],
  ['ssl', 'strict'],
  ['always_use_https', 'on'],
  ['http3', 'on'],
];

/** Cloudflare Pro allows 10 s counting periods; 100 requests per 10 s per client and colo. */
export const RATE_LIMIT = { period: 10, requestsPerPeriod: 100, mitigationTimeout: 10 } as const;

/** Seed module `cloudflare`: pools per region, geo steering, monitor, cache rules, rate limits, TLS. */
export class CloudflareComponent extends pulumi.ComponentResource {
  constructor(name: string, args: CloudflareArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Cloudflare', name, {}, opts);
    const child = { parent: this };
    const { plan } = args;

    const monitor = new cloudflare.LoadBalancerMonitor(`${name}-monitor`, {
      accountId: args.accountId,
      type: plan.monitor.type,
      path: plan.monitor.path,
      expectedCodes: plan.monitor.expectedCodes,
      interval: plan.monitor.intervalSeconds,
      consecutiveDown: plan.monitor.consecutiveDown,
      consecutiveUp: plan.monitor.consecutiveUp,
      timeout: plan.monitor.timeoutSeconds,
      retries: 0,
      allowInsecure: false,
      followRedirects: false,
      description: 'Atlas regional API health',
    }, child);

    const poolIds = new Map<string, pulumi.Output<string>>();
    for (const p of plan.pools) {
      const pool = new cloudflare.LoadBalancerPool(`${name}-pool-${p.region}`, {
        accountId: args.accountId,
        name: p.name,
        monitor: monitor.id,
        minimumOrigins: 1,
        // The Host header matches the ALB certificate (*.<domain>) so origin TLS validates strictly.
        origins: [{ name: p.region, address: p.originAddress, enabled: true, header: { hosts: [p.originAddress] } }],
      }, child);
      poolIds.set(p.region, pool.id);
    }
    const ids = (regions: readonly string[]): pulumi.Output<string>[] => regions.map((r) => poolIds.get(r)!);
    const countryPools: Record<string, pulumi.Output<string>[]> = {};
    for (const [country, regions] of Object.entries(plan.countryPools)) countryPools[country] = ids(regions);

    new cloudflare.LoadBalancer(`${name}-lb`, {
      zoneId: args.zoneId,
      name: args.publicHostname,
      proxied: true,
      steeringPolicy: 'geo',
      countryPools,
      defaultPools: ids(plan.defaultPools),
      fallbackPool: poolIds.get(plan.fallbackPool)!,
      // Off: a user's requests must follow their organization's home region, which the API
      // enforces with 421 replays; sticky sessions would pin them to a possibly wrong region.
      sessionAffinity: 'none',
    }, child);

    for (const [settingId, value] of ZONE_SETTINGS) {
      new cloudflare.ZoneSetting(`${name}-${settingId}`, { zoneId: args.zoneId, settingId, value }, child);
    }

    new cloudflare.Ruleset(`${name}-cache`, {
      zoneId: args.zoneId,
      name: 'atlas cache rules',
      kind: 'zone',
      phase: 'http_request_cache_settings',
      rules: [
        // API responses carry regional personal data: caching them at the edge would copy it to
        // every PoP (rule R1), so the API is never cached.
        { description: 'never cache the API', expression: '(starts_with(http.request.uri.path, "/api/"))', action: 'set_cache_settings', actionParameters: { cache: false } },
        { description: 'cache hashed static assets for a year', expression: '(http.request.uri.path.extension in {"js" "css" "woff2" "png" "svg" "webp" "avif"})', action: 'set_cache_settings', actionParameters: { cache: true, edgeTtl: { mode: 'override_origin', default: 31536000 }, browserTtl: { mode: 'override_origin', default: 31536000 } } },
      ],
    }, child);

    new cloudflare.Ruleset(`${name}-ratelimit`, {
      zoneId: args.zoneId,
      name: 'atlas rate limits',
      kind: 'zone',
      phase: 'http_ratelimit',
      rules: [
        {
          description: 'API: 100 requests / 10 s per client',
          expression: '(starts_with(http.request.uri.path, "/api/"))',
          action: 'block',
          ratelimit: { characteristics: ['cf.colo.id', 'ip.src'], period: RATE_LIMIT.period, requestsPerPeriod: RATE_LIMIT.requestsPerPeriod, mitigationTimeout: RATE_LIMIT.mitigationTimeout },
        },
      ],
    }, child);
    this.registerOutputs({});
  }
}
