import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { Topology } from '@atlas/core';
import type { StackSettings } from './config/stack-config';
import { planBackupCopies } from './planners/backup.planner';
import { planCloudflare } from './planners/cloudflare.planner';
import { planCloudHealth } from './planners/health.planner';
import { assertTopologyResidency } from './planners/residency.planner';
import { planRoute53 } from './planners/route53.planner';
import { regionalHost } from './planners/routing.planner';
import { planRegionCidrs } from './planners/subnets.planner';
import { CloudflareComponent } from './components/cloudflare.component';
import { DisasterRecoveryComponent } from './components/disaster-recovery.component';
import { PeeringMeshComponent } from './components/peering.component';
import { apiKeyProblems } from './components/api-env';
import { AtlasRegion } from './components/region.component';
import { Route53Component } from './components/route53.component';

export interface AtlasSecrets {
  readonly redisAuthToken: pulumi.Input<string>;
  /** Key of the e-mail blind index, the same in every region (stack secret atlas:blindIndexKey). */
  readonly blindIndexKey: pulumi.Input<string>;
  /** Ed25519 private JWK signing audit checkpoints (stack secret atlas:auditSigningKey). */
  readonly auditSigningKey: pulumi.Input<string>;
  /** Region id → base64 AES-256 document key (stack secret atlas:documentKeys, JSON). */
  readonly documentKeys: pulumi.Input<Readonly<Record<string, string>>>;
  /** Password of the API's database role atlas_app (stack secret atlas:dbAppPassword). */
  readonly dbAppPassword: pulumi.Input<string>;
  /**
   * Password of atlas_cache_stream, the role of each API task's cache-invalidation stream
   * (migration 025; stack secret atlas:dbCacheStreamPassword). The migration task sets it.
   */
  readonly dbCacheStreamPassword: pulumi.Input<string>;
}

export interface AtlasOutputs {
  readonly albs: Record<string, pulumi.Output<string>>;
  readonly repositories: Record<string, pulumi.Output<string>>;
  readonly orchestratorFunction: pulumi.Output<string>;
}

/**
 * The whole deployment, as a function of validated settings and topology, so unit tests run
 * exactly what `pulumi up` runs. Every routing decision comes from the planners.
 */
export function createAtlas(stack: string, settings: StackSettings, topology: Topology, secrets: AtlasSecrets): AtlasOutputs {
  assertTopologyResidency(topology);
  const health = planCloudHealth(topology, { intervalSeconds: settings.healthIntervalSeconds });
  const naming = { domain: settings.domain };
  const cidrs = planRegionCidrs(settings.vpcSupernet, topology.regions.map((r) => r.id), settings.vpcCidrs);
  const copies = new Map(planBackupCopies(topology).map((p) => [p.source, p.targets]));
  const controlRegion = settings.drControlRegion ?? topology.regions[0]!.id;
  if (!topology.regions.some((r) => r.id === controlRegion)) throw new Error(`atlas:drControlRegion ${controlRegion} is not a topology region`);

  const providers = new Map(topology.regions.map((r) => [r.id, new aws.Provider(`aws-${r.id}`, { region: r.id as aws.Region, defaultTags: { tags: { project: 'atlas', stack } } })]));
  const accountId = aws.getCallerIdentityOutput({}, { provider: providers.get(topology.regions[0]!.id) }).accountId;

  const regions = new Map(
    topology.regions.map((region) => {
      const peerCidrs = topology.regions.filter((r) => r.id !== region.id).map((r) => cidrs[r.id]!);
      const peerUrls = Object.fromEntries(topology.regions.filter((r) => r.id !== region.id).map((r) => [r.id, `https://${regionalHost(naming, r.code)}`]));
      const documentKey = pulumi.all([secrets.documentKeys, secrets.blindIndexKey, secrets.auditSigningKey, secrets.dbAppPassword, secrets.dbCacheStreamPassword]).apply(([keys, blindIndexKey, auditSigningKey, dbAppPassword, dbCacheStreamPassword]) => {
        const problems = apiKeyProblems({ region: region.id, documentKey: keys[region.id], blindIndexKey, auditSigningKey, dbAppPassword, dbCacheStreamPassword });
        if (problems.length > 0) throw new Error(problems.join('; '));
        return keys[region.id]!;
      });
      const atlasRegion = new AtlasRegion(`atlas-${region.code}`, {
        ctx: { region, stack },
        settings,
        topology,
        vpcCidr: cidrs[region.id]!,
        peerCidrs,
        backupCopyTargets: copies.get(region.id) ?? [],
        accountId,
        redisAuthToken: secrets.redisAuthToken,
        peerUrls,
        apiKeys: { documentKey: pulumi.secret(documentKey), blindIndexKey: secrets.blindIndexKey, auditSigningKey: secrets.auditSigningKey, dbAppPassword: secrets.dbAppPassword, dbCacheStreamPassword: secrets.dbCacheStreamPassword },
      }, { providers: { aws: providers.get(region.id)! } });
      return [region.id, atlasRegion] as const;
    }),
  );

  new PeeringMeshComponent('atlas-mesh', topology.regions.map((r) => ({
    regionId: r.id,
    vpcId: regions.get(r.id)!.vpc.vpcId,
    cidr: cidrs[r.id]!,
    privateRouteTableIds: regions.get(r.id)!.vpc.privateRouteTableIds,
    provider: providers.get(r.id)!,
  })));

  const albs = Object.fromEntries(topology.regions.map((r) => [r.id, { dnsName: regions.get(r.id)!.ecs.albDnsName, zoneId: regions.get(r.id)!.ecs.albZoneId }]));
  new Route53Component('atlas-dns', { zoneId: settings.route53ZoneId, plan: planRoute53(topology, health, naming, settings.healthPath), albs }, { provider: providers.get(controlRegion) });
  new CloudflareComponent('atlas-edge', {
    accountId: settings.cloudflareAccountId,
    zoneId: settings.cloudflareZoneId,
    publicHostname: settings.publicHostname,
    plan: planCloudflare({ topology, health, naming, healthPath: settings.healthPath, stack }),
  });

  const control = topology.regions.find((r) => r.id === controlRegion)!;
  const dr = new DisasterRecoveryComponent('atlas-dr', {
    ctx: { region: control, stack },
    kmsKeyArn: regions.get(controlRegion)!.kmsKeyArn,
    bundlePath: settings.orchestratorBundle,
    regions: topology.regions.map((r) => ({ id: r.id, healthUrl: `https://${regionalHost(naming, r.code)}${settings.healthPath}`, dbInstanceArn: regions.get(r.id)!.rds.instanceArn })),
    health,
    alertEmail: settings.alertEmail,
  }, { provider: providers.get(controlRegion) });

  return {
    albs: Object.fromEntries(topology.regions.map((r) => [r.id, regions.get(r.id)!.ecs.albDnsName])),
    repositories: Object.fromEntries(topology.regions.map((r) => [r.id, regions.get(r.id)!.ecs.repositoryUrl])),
    orchestratorFunction: dr.functionArn,
  };
}
