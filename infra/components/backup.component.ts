import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { assertCopyTarget } from '../planners/backup.planner';
import { assertPlacement } from '../planners/residency.planner';
import { serviceTrustPolicy } from '../planners/iam.planner';
import { type RegionContext, regionTags } from './common';

export interface BackupArgs {
  readonly ctx: RegionContext;
  readonly kmsKeyArn: pulumi.Input<string>;
  /** ARNs of the resources to protect (the regional database, the documents bucket). */
  readonly resourceArns: pulumi.Input<string>[];
  /** Regions that receive copies; from planBackupCopies, so same jurisdiction only. */
  readonly copyTargets: readonly string[];
  readonly accountId: pulumi.Input<string>;
}

/** Recovery points are kept long enough for a monthly restore drill plus a margin. */
export const BACKUP_RETENTION_DAYS = 35;

/** Vault names are deterministic so a source region can name its copy target's vault before it exists. */
export function backupVaultName(stack: string, regionId: string): string {
  return `atlas-${stack}-${regionId}`;
}

/** Seed's AWS Backup (disaster-recovery module), with copies only inside the jurisdiction. */
export class BackupComponent extends pulumi.ComponentResource {
  readonly vaultArn: pulumi.Output<string>;

  constructor(name: string, args: BackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Backup', name, {}, opts);
    const { ctx } = args;
    assertPlacement(ctx.region.jurisdiction, ctx.region.id, `backup vault ${name}`);
    // Re-checked here although the planner guarantees it: a hand-edited target must fail too.
    for (const target of args.copyTargets) assertCopyTarget(ctx.region.id, target);
    const tags = regionTags(ctx, 'backup');
    const child = { parent: this };

    const vault = new aws.backup.Vault(`${name}-vault`, { region: ctx.region.id, name: backupVaultName(ctx.stack, ctx.region.id), kmsKeyArn: args.kmsKeyArn, tags }, child);
    const copyActions = args.copyTargets.map((target) => ({
      destinationVaultArn: pulumi.interpolate`arn:aws:backup:${target}:${args.accountId}:backup-vault:${backupVaultName(ctx.stack, target)}`,
      lifecycle: { deleteAfter: BACKUP_RETENTION_DAYS },
    }));
    const plan = new aws.backup.Plan(`${name}-plan`, {
      region: ctx.region.id,
      name: `atlas-${ctx.stack}-${ctx.region.code}-daily`,
      rules: [{ ruleName: 'daily', targetVaultName: vault.name, schedule: 'cron(0 3 * * ? *)', startWindow: 60, completionWindow: 180, lifecycle: { deleteAfter: BACKUP_RETENTION_DAYS }, copyActions }],
      tags,
    }, child);

    const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: serviceTrustPolicy('backup.amazonaws.com'), tags }, child);
    // AWS's own service-role policies: AWS Backup needs per-service snapshot permissions that
    // AWS maintains as services evolve; they grant no "*" action on "*".
    for (const policy of ['AWSBackupServiceRolePolicyForBackup', 'AWSBackupServiceRolePolicyForRestores', 'AWSBackupServiceRolePolicyForS3Backup', 'AWSBackupServiceRolePolicyForS3Restore']) {
      const path = policy.includes('S3') ? 'arn:aws:iam::aws:policy/' : 'arn:aws:iam::aws:policy/service-role/';
      new aws.iam.RolePolicyAttachment(`${name}-${policy}`, { role: role.name, policyArn: `${path}${policy}` }, child);
    }
    new aws.backup.Selection(`${name}-selection`, { region: ctx.region.id, name: 'atlas-regional-data', planId: plan.id, iamRoleArn: role.arn, resources: args.resourceArns }, child);

    this.vaultArn = vault.arn;
    this.registerOutputs({ vaultArn: this.vaultArn });
  }
}
