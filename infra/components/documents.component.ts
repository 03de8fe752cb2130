import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { assertPlacement } from '../planners/residency.planner';
import { type RegionContext, regionTags } from './common';

export interface DocumentsArgs {
  readonly ctx: RegionContext;
  readonly kmsKeyArn: pulumi.Input<string>;
}

/** Per-region bucket for document bodies (architecture §3): regional data, so home region only. */
export class DocumentsComponent extends pulumi.ComponentResource {
  readonly bucketArn: pulumi.Output<string>;
  readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: DocumentsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('atlas:infra:Documents', name, {}, opts);
    const { ctx } = args;
    assertPlacement(ctx.region.jurisdiction, ctx.region.id, `documents bucket ${name}`);
    const tags = { ...regionTags(ctx, 'documents'), dataClass: 'regional' };
    const child = { parent: this };

    // The region is set on the bucket itself, not only through the provider, so the
    // placement is visible in the resource's own inputs and cannot drift with a provider.
    const bucket = new aws.s3.Bucket(`${name}-bucket`, { region: ctx.region.id, bucketPrefix: `atlas-${ctx.stack}-${ctx.region.code}-docs-`, forceDestroy: false, tags }, child);
    new aws.s3.BucketPublicAccessBlock(`${name}-no-public`, { region: ctx.region.id, bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true }, child);
    new aws.s3.BucketOwnershipControls(`${name}-owner`, { region: ctx.region.id, bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } }, child);
    new aws.s3.BucketVersioning(`${name}-versions`, { region: ctx.region.id, bucket: bucket.id, versioningConfiguration: { status: 'Enabled' } }, child);
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-sse`, {
      region: ctx.region.id,
      bucket: bucket.id,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: args.kmsKeyArn }, bucketKeyEnabled: true }],
    }, child);
    new aws.s3.BucketPolicy(`${name}-tls-only`, {
      region: ctx.region.id,
      bucket: bucket.id,
      policy: bucket.arn.apply((arn) =>
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Sid: 'DenyPlaintext', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [arn, `${arn}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
        }),
      ),
    }, child);

    this.bucketArn = bucket.arn;
    this.bucketName = bucket.bucket;
    this.registerOutputs({ bucketArn: this.bucketArn });
  }
}
