import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { assertPlacement } from '../planners/residency.planner';
import { type RegionContext, regionTags } from './common';

export interface DocumentsArgs {
  readonly ctx: RegionContext;
  readonly kmsKeyArn: pulumi.Input<string>;
}

/**
 * Days a noncurrent version (an overwritten or deleted body, a withdrawn ledger object) stays
 * in the documents bucket before S3 expires it. The API deletes every version of a body it
 * removes (packages/api/src/lib/body-store.ts); this bounds what anything else leaves behind
 * (an operator's plain delete, an overwrite) well inside GDPR's one-month erasure deadline,
 * while still letting an accidental overwrite be undone for a week.
 */
export const NONCURRENT_VERSION_DAYS = 7;

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
    const versioning = new aws.s3.BucketVersioning(`${name}-versions`, { region: ctx.region.id, bucket: bucket.id, versioningConfiguration: { status: 'Enabled' } }, child);
    // The backstop for versions the API's version-aware delete does not see: noncurrent versions
    // expire, and a delete marker left with no version under it goes too. Whole bucket (bodies
    // and the erasure ledger copy). After the versioning, as AWS requires for noncurrent rules.
    new aws.s3.BucketLifecycleConfiguration(`${name}-expire-noncurrent`, {
      region: ctx.region.id,
      bucket: bucket.id,
      rules: [{
        id: 'expire-noncurrent-versions',
        status: 'Enabled',
        filter: {},
        noncurrentVersionExpiration: { noncurrentDays: NONCURRENT_VERSION_DAYS },
        expiration: { expiredObjectDeleteMarker: true },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      }],
    }, { ...child, dependsOn: [versioning] });
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
