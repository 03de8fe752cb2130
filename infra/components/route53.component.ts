import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { Route53Plan } from '../planners/route53.planner';

export interface RegionalAlb {
  readonly dnsName: pulumi.Input<string>;
  readonly zoneId: pulumi.Input<string>;
}

export interface Route53Args {
  readonly zoneId: pulumi.Input<string>;
  readonly plan: Route53Plan;
  /** Region id → that region's ALB. */
  readonly albs: Readonly<Record<string, RegionalAlb>>;
}

/** Seed module `route53`: renders the planner's records and health checks; no decisions here. */
export class Route53Component extends pulumi.ComponentResource {
  readonly healthCheckIds: Record<string, pulumi.Output<string>> = {};

  constructor(name: string, args: Route53Args, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Route53', name, {}, opts);
    const child = { parent: this };
    for (const hc of args.plan.healthChecks) {
      const check = new aws.route53.HealthCheck(`${name}-hc-${hc.region}`, {
        type: 'HTTPS',
        fqdn: hc.fqdn,
        port: 443,
        resourcePath: hc.path,
        requestInterval: hc.requestIntervalSeconds,
        failureThreshold: hc.failureThreshold,
        enableSni: true,
        measureLatency: true,
        tags: { project: 'atlas', region: hc.region },
      }, child);
      this.healthCheckIds[hc.region] = check.id;
    }
    for (const r of args.plan.records) {
      const alias =
        r.target.kind === 'alb'
          ? { name: requireAlb(args.albs, r.target.region).dnsName, zoneId: requireAlb(args.albs, r.target.region).zoneId, evaluateTargetHealth: true }
          : { name: r.target.name, zoneId: args.zoneId, evaluateTargetHealth: true };
      new aws.route53.Record(`${name}-${r.setIdentifier ?? r.name}`, {
        zoneId: args.zoneId,
        name: r.name,
        type: 'A',
        setIdentifier: r.setIdentifier,
        geolocationRoutingPolicies: r.geolocationCountry ? [{ country: r.geolocationCountry }] : undefined,
        latencyRoutingPolicies: r.latencyRegion ? [{ region: r.latencyRegion }] : undefined,
        healthCheckId: r.healthCheckRegion ? this.healthCheckIds[r.healthCheckRegion] : undefined,
        aliases: [alias],
      }, child);
    }
    this.registerOutputs({});
  }
}

function requireAlb(albs: Readonly<Record<string, RegionalAlb>>, region: string): RegionalAlb {
  const alb = albs[region];
  if (!alb) throw new Error(`route53: no ALB for region ${region}`);
  return alb;
}
