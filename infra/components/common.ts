import * as pulumi from '@pulumi/pulumi';
import type { RegionConfig } from '@atlas/core';
import { assertLeastPrivilege, type PolicyDocument } from '../planners/iam.planner';

/** What every regional component needs to know about where it runs. */
export interface RegionContext {
  readonly region: RegionConfig;
  /** Stack name (staging, production); part of every physical name so stacks never collide. */
  readonly stack: string;
}

export function regionTags(ctx: RegionContext, component: string): Record<string, string> {
  return {
    project: 'atlas',
    stack: ctx.stack,
    component,
    region: ctx.region.id,
    // Tagging the jurisdiction lets tests and AWS Config rules check residency per resource.
    jurisdiction: ctx.region.jurisdiction,
  };
}

export { shortName } from '../planners/names';

/**
 * Serialises a policy whose ARNs are still outputs, refusing it at deploy time if it breaks
 * the least-privilege rule — the same check the tests make, enforced where it matters.
 */
export function leastPrivilegePolicy(name: string, doc: PolicyInput): pulumi.Output<string> {
  return pulumi.output(doc).apply((resolved) => assertLeastPrivilege(resolved as unknown as PolicyDocument, name));
}

/** A policy statement whose resources may still be outputs (ARNs of resources being created). */
export interface StatementInput {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: pulumi.Input<string> | pulumi.Input<string>[];
  readonly Condition?: Record<string, Record<string, string>>;
}

export interface PolicyInput {
  readonly Version: '2012-10-17';
  readonly Statement: StatementInput[];
}
