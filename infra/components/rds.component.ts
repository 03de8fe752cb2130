import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { assertPlacement } from '../planners/residency.planner';
import { type RegionContext, regionTags, shortName } from './common';

export interface RdsArgs {
  readonly ctx: RegionContext;
  readonly vpcId: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<string>[];
  readonly appSecurityGroupId: pulumi.Input<string>;
  /** Other regions' VPC blocks, whose subscriptions pull global tables from this publisher. */
  readonly peerCidrs: readonly string[];
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly instanceClass: string;
  /** Major version; the parameter group family follows it. */
  readonly postgresVersion: string;
  readonly regionCount: number;
  /**
   * The most API tasks that can run against this database at once (the service's maximum,
   * including a rolling deployment's surplus): each holds one cache-invalidation stream.
   */
  readonly maxApiTasks: number;
}

/** max_replication_slots: two per region for the mesh plus 5 of headroom (anti-entropy pass, standbys), and one per API task's cache stream. */
export function replicationSlots(regionCount: number, maxApiTasks: number): number {
  return regionCount * 2 + 5 + maxApiTasks;
}

/** max_wal_senders: two per region for the mesh plus 10 of headroom, and one per API task's cache stream. */
export function walSenders(regionCount: number, maxApiTasks: number): number {
  return regionCount * 2 + 10 + maxApiTasks;
}

/**
 * wal_writer_delay in ms. The subscriptions' apply worker commits asynchronously
 * (synchronous_commit = off, packages/db/src/replication/mesh.ts) and a walsender decodes only
 * flushed WAL, so the API's cache streams see an applied change when the WAL writer next
 * flushes: at the default 200 ms a replicated change reached the cache ~150 ms after it was
 * readable (the cache serving the old row meanwhile). The local clusters use the same value
 * (packages/db/src/pg-node.ts).
 */
export const WAL_WRITER_DELAY_MS = 10;

/** The application database created in every instance. */
export const DB_NAME = 'atlas';

/** The seed's 7-day automated backup window. */
export const DB_BACKUP_RETENTION_DAYS = 7;

/** Seed module `rds`: PostgreSQL, Multi-AZ, logical replication, KMS, 7-day backups. */
export class RdsComponent extends pulumi.ComponentResource {
  readonly instanceArn: pulumi.Output<string>;
  readonly instanceIdentifier: pulumi.Output<string>;
  readonly endpoint: pulumi.Output<string>;
  readonly address: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  readonly dbName: string;
  /** Secrets Manager secret RDS manages for the master user (rotated by RDS). */
  readonly masterSecretArn: pulumi.Output<string>;

  constructor(name: string, args: RdsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Rds', name, {}, opts);
    const { ctx } = args;
    assertPlacement(ctx.region.jurisdiction, ctx.region.id, `database ${name}`);
    const tags = regionTags(ctx, 'rds');
    const child = { parent: this };

    const subnets = new aws.rds.SubnetGroup(`${name}-subnets`, { subnetIds: args.subnetIds, tags }, child);
    const sg = new aws.ec2.SecurityGroup(`${name}-sg`, {
      vpcId: args.vpcId,
      description: 'Atlas PostgreSQL: API tasks and peer-region subscribers only',
      ingress: [
        { protocol: 'tcp', fromPort: 5432, toPort: 5432, securityGroups: [args.appSecurityGroupId], description: 'API tasks' },
        ...(args.peerCidrs.length > 0 ? [{ protocol: 'tcp', fromPort: 5432, toPort: 5432, cidrBlocks: [...args.peerCidrs], description: 'logical replication subscribers in peer regions' }] : []),
      ],
      tags,
    }, child);

    const major = args.postgresVersion.split('.')[0];
    const params = new aws.rds.ParameterGroup(`${name}-params`, {
      family: `postgres${major}`,
      description: 'Atlas: logical replication of global tables, TLS only',
      parameters: [
        // Static parameter: takes effect at the next reboot, hence pending-reboot.
        { name: 'rds.logical_replication', value: '1', applyMethod: 'pending-reboot' },
        // Every cross-region link must be TLS (architecture §6).
        { name: 'rds.force_ssl', value: '1' },
        // One slot and one walsender per subscribing region, plus headroom for the anti-entropy
        // pass and standbys; and one of each per API task: its cache-invalidation stream holds a
        // walsender and a temporary slot for the task's whole life (lib/change-listener.ts).
        { name: 'max_replication_slots', value: String(replicationSlots(args.regionCount, args.maxApiTasks)), applyMethod: 'pending-reboot' },
        { name: 'max_wal_senders', value: String(walSenders(args.regionCount, args.maxApiTasks)), applyMethod: 'pending-reboot' },
        // Dynamic: the WAL writer flushes the apply worker's asynchronous commits every 10 ms
        // instead of 200, so the cache streams see a replicated change soon after it is readable.
        { name: 'wal_writer_delay', value: String(WAL_WRITER_DELAY_MS) },
      ],
      tags,
    }, child);

    const db = new aws.rds.Instance(`${name}-db`, {
      region: ctx.region.id,
      identifier: shortName(ctx, 'db'),
      engine: 'postgres',
      engineVersion: args.postgresVersion,
      instanceClass: args.instanceClass,
      allocatedStorage: 100,
      maxAllocatedStorage: 1000,
      storageType: 'gp3',
      storageEncrypted: true,
      kmsKeyId: args.kmsKeyArn,
      // Synchronous standby in a second AZ: an acknowledged write survives an AZ loss (RPO 0).
      multiAz: true,
      publiclyAccessible: false,
      dbSubnetGroupName: subnets.name,
      vpcSecurityGroupIds: [sg.id],
      parameterGroupName: params.name,
      dbName: DB_NAME,
      username: 'atlas_admin',
      manageMasterUserPassword: true,
      masterUserSecretKmsKeyId: args.kmsKeyArn,
      backupRetentionPeriod: DB_BACKUP_RETENTION_DAYS,
      backupWindow: '02:00-03:00',
      maintenanceWindow: 'sun:03:30-sun:04:30',
      copyTagsToSnapshot: true,
      deletionProtection: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: shortName(ctx, 'db-final'),
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: args.kmsKeyArn,
      iamDatabaseAuthenticationEnabled: true,
      autoMinorVersionUpgrade: true,
      tags,
    }, child);

    this.instanceArn = db.arn;
    this.instanceIdentifier = db.identifier;
    this.endpoint = db.endpoint;
    this.address = db.address;
    this.port = db.port;
    this.dbName = DB_NAME;
    this.masterSecretArn = db.masterUserSecrets.apply((s) => s?.[0]?.secretArn ?? '');
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
