/**
 * Physical names shared by the Pulumi components (which create the resources) and
 * `atlas deploy` (which finds them again with the AWS SDK). Pure: no Pulumi import.
 */

/** Short physical-name prefix; AWS caps several names (ALB, target group) at 32 characters. */
export function shortName(ctx: { readonly stack: string; readonly region: { readonly code: string } }, suffix: string): string {
  return `atlas-${ctx.stack.slice(0, 4)}-${ctx.region.code}-${suffix}`;
}

/** ECR repository of the API image, one per region (same name in every region). */
export function repositoryName(stack: string): string {
  return `atlas-${stack}/api`;
}

export const API_SERVICE_NAME = 'atlas-api';
export const API_CONTAINER_NAME = 'api';

export function clusterName(stack: string, regionCode: string): string {
  return shortName({ stack, region: { code: regionCode } }, 'cluster');
}
