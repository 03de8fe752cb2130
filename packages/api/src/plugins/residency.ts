import type { FastifyRequest } from 'fastify';
import { homeRegionOfOrg, notFound, wrongRegion } from '@atlas/core';
import { findOrganization } from '@atlas/db';
import type { AppContext } from '../context';

/**
 * The pure half of the residency guard (rule R1, first line): the organization id names its
 * home region, so a request for another region's organization is refused with 421 and the
 * right region, with no database work and before authentication touches the database.
 */
export function assertHomeRegion(ctx: AppContext, orgId: string | undefined): void {
  const home = orgId === undefined ? undefined : homeRegionOfOrg(ctx.config.topology, orgId);
  if (!home) throw notFound(`organization ${orgId}`);
  if (home.id !== ctx.config.region.id) {
    ctx.metrics.wrongRegion.inc({ region: ctx.config.region.id, home_region: home.id });
    throw wrongRegion(home.id, `organization ${orgId}`);
  }
}

/**
 * The residency guard on every /api/orgs/:orgId/… route: 421 for a foreign organization
 * (unless authentication already said so), then 404 for one that does not exist here.
 */
export function requireHomeRegion(ctx: AppContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const { orgId } = request.params as { orgId: string };
    // Authentication already ran the pure check on protected routes: a repeat costs nothing.
    assertHomeRegion(ctx, orgId);
    const org = await ctx.cache.read('organization', orgId, () => findOrganization(ctx.db.db, orgId));
    if (!org) throw notFound(`organization ${orgId}`);
  };
}
