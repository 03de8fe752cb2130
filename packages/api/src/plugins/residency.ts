import type { FastifyRequest } from 'fastify';
import { homeRegionOfOrg, notFound, wrongRegion } from '@atlas/core';
import { findOrganization } from '@atlas/db';
import type { AppContext } from '../context';

/**
 * The API's residency guard (rule R1, first line): the organization id names its home
 * region, so a request for another region's organization is refused with 421 and the right
 * region before anything regional is read or written here.
 */
export function requireHomeRegion(ctx: AppContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const { orgId } = request.params as { orgId: string };
    const home = homeRegionOfOrg(ctx.config.topology, orgId);
    if (!home) throw notFound(`organization ${orgId}`);
    if (home.id !== ctx.config.region.id) {
      ctx.metrics.wrongRegion.inc({ region: ctx.config.region.id, home_region: home.id });
      throw wrongRegion(home.id, `organization ${orgId}`);
    }
    const org = await ctx.cache.read('organization', orgId, () => findOrganization(ctx.db.db, orgId));
    if (!org) throw notFound(`organization ${orgId}`);
  };
}
